"""``cms-social-login-settings --site KEY``: export one site's settings, import them as
another site's draft; the other sites of the deployment are left as they were."""

from __future__ import annotations

import json

from sqlalchemy import select

from cms_social_login.models import LoginSettings

from ..helpers import settings_command, write_ini
from .helpers import CONSUMERS, HOST_A, publish_bitbucket


def stages(app) -> dict[tuple[str, str], dict]:
    """Every site's stored stages: (site, stage) -> document."""
    with app.registry["cms_social_login.dbsession_factory"]() as db:
        return {(r.site, r.stage): r.document for r in db.scalars(select(LoginSettings))}


def test_one_sites_settings_go_to_another_site_as_its_draft(
        app, app_settings, tmp_path, site_consumers, editor_a):
    ini = write_ini(tmp_path / "platform.ini", app_settings)
    publish_bitbucket(editor_a, HOST_A).follow()
    status, exported, _err = settings_command("export", ini, "--site", "site-a")
    assert status == 0
    assert json.loads(exported)["providers"]["bitbucket"]["values"]["client_id"] \
        == CONSUMERS[HOST_A][0]
    before = stages(app)
    path = tmp_path / "site-a.json"
    path.write_text(exported, encoding="utf-8")
    status, out, _err = settings_command("import", ini, str(path), "--site", "site-b")
    assert status == 0, out
    # site-b had nothing yet: the operator is told, in case --site was mistyped.
    assert "Warning: the site site-b had no login settings before: this is its first " \
           "draft (check --site if you meant another site)." in out
    status, out, _err = settings_command("import", ini, str(path), "--site", "site-b")
    assert status == 0 and "had no login settings before" not in out
    after = stages(app)
    assert after[("site-b", "draft")]["bitbucket"]["values"]["client_id"] \
        == CONSUMERS[HOST_A][0]
    assert ("site-b", "published") not in after  # an editor of site-b reviews and saves
    assert {key: value for key, value in after.items() if key[0] != "site-b"} == before


def test_without_site_the_command_works_on_the_default_site(
        app, app_settings, tmp_path, site_consumers, editor_a):
    ini = write_ini(tmp_path / "platform.ini", app_settings)
    publish_bitbucket(editor_a, HOST_A).follow()
    status, out, err = settings_command("export", ini)
    assert status == 1 and out == ""
    assert "this site (default) has no published login settings yet" in err


def test_a_bad_site_key_is_bad_input(app, app_settings, tmp_path):
    ini = write_ini(tmp_path / "platform.ini", app_settings)
    status, _out, err = settings_command("export", ini, "--site", "no such site")
    assert status == 2 and "--site: a site key is 1 to 64 letters" in err


def platform_host(global_config, **settings):
    """A platform whose resolver knows its sites' host names only (no default site):
    ``use = call:tests.sites.test_settings_io_sites:platform_host``."""
    from pyramid.config import Configurator

    with Configurator(settings=settings) as config:
        config.include("cms_social_login")
        config.include("cms_demo.models")
        config.include("cms_demo.security")
        config.set_social_login_site_resolver(
            lambda request: {"site-a.localhost": "site-a"}.get(request.host_url[7:]))
    return config.make_wsgi_app()


def test_a_platform_without_a_default_site_asks_for_site(app, app_settings, tmp_path):
    ini = write_ini(tmp_path / "platform.ini", app_settings)
    text = open(ini, encoding="utf-8").read().replace(
        "use = egg:cms_social_login", f"use = call:{__name__}:platform_host")
    open(ini, "w", encoding="utf-8").write(text)
    status, out, err = settings_command("export", ini)
    assert status == 2 and out == ""
    assert err.strip() == ("cms-social-login-settings: error: the site resolver gives no "
                           "site to a request to http://localhost: name one with --site KEY")
    status, _out, err = settings_command("export", ini, "--site", "site-a")
    assert status == 1 and "this site (site-a) has no published login settings" in err
