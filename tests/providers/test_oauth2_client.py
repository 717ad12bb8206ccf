"""The OAuth 2.0 client steps come from Authlib, loaded only when a login starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_login_page_does_not_load_authlib(tmp_path):
    """A worker that only serves ``GET /login`` never imports Authlib (its memory is
    measured by benchmark 4); starting a login does."""
    script = textwrap.dedent(f"""
        import sys
        import webtest
        from cms_social_login.testing.plugin import KIT_SECRET_KEY, site_app

        settings = {{"sqlalchemy.url": "sqlite:///{tmp_path}/site.sqlite",
                     "cms_social_login.secret_key": KIT_SECRET_KEY,
                     "cms_demo.setup_database": "true"}}
        with site_app(settings) as app:
            assert webtest.TestApp(app).get("/login").status_int == 200
            print("after /login:", "authlib" in sys.modules)
            from cms_social_login.providers.base import LoginContext
            from cms_social_login.providers.registry import get_provider_registry

            bitbucket = get_provider_registry(app.registry).get("bitbucket")
            bitbucket.authorize_redirect(LoginContext(
                {{"client_id": "abcd1234"}}, "http://localhost/cb", "s" * 32))
            print("after a login start:", "authlib" in sys.modules)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "after /login: False" in run.stdout
    assert "after a login start: True" in run.stdout
