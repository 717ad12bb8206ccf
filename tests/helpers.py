"""What the suite's tests share besides fixtures: the site's Bitbucket consumer and key, and
the editor's and visitor's steps on the Bitbucket tab (the general steps are the kit's,
:mod:`cms_social_login.testing.steps`), and a security policy for hosts without editors.

Test modules import these from here (``from tests.helpers import ...``); ``conftest.py``
holds only fixtures.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from sqlalchemy import event

from cms_demo.bootstrap import setup_database
from cms_social_login.models import get_social_login_engine
from cms_social_login.scripts import settings_io
from cms_social_login.testing import steps
from cms_social_login.testing.steps import SITE, callback_path, query_of

__all__ = [
    "CALLBACK_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "NobodyEdits",
    "SECRET_KEY",
    "SITE",
    "bitbucket_buttons",
    "answers_nothing",
    "callback_path",
    "endpoints_of",
    "query_of",
    "settings_form",
    "start_login",
    "submit_bitbucket",
]

CALLBACK_URL = f"{SITE}/login/bitbucket/callback"
CLIENT_ID = "bbKey1234567890abcd"
CLIENT_SECRET = "bbSecret-s3cr3t-XYZ-0123456789abcdef"
SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def answers_nothing() -> Any:
    """A plugin provider whose credentials check is written the 0.x way: it declares
    ``can_verify_credentials`` and its ``verify_credentials`` returns None."""
    from cms_social_login.providers import OAuth2Provider
    from cms_social_login.settings import SocialLoginSettings
    from cms_social_login.testing.plugin import KIT_SECRET_KEY

    class AnswersNothing(OAuth2Provider):
        name = "nothing"
        title = "Nothing"
        can_verify_credentials = True

        def verify_credentials(self, values):
            return None

        def fetch_profile(self, token, values):
            raise NotImplementedError

    return AnswersNothing(SocialLoginSettings.from_settings(
        {"cms_social_login.secret_key": KIT_SECRET_KEY}), name="nothing")


def endpoints_of(provider: str, emulator: Any) -> dict[str, str]:
    """The app settings that point ``provider``'s authorize, token and API URLs at a
    running ``emulator``."""
    return {f"cms_social_login.{provider}.{url}": getattr(emulator, url)
            for url in ("authorize_url", "token_url", "api_url")}


def settings_form(browser: Any, tab: str = "bitbucket") -> Any:
    """Open the Login setting dialog and return its form."""
    return steps.settings_form(browser, tab)


def submit_bitbucket(browser: Any, action: str, *, client_id: str = CLIENT_ID,
                     client_secret: str = CLIENT_SECRET, enabled: bool = True,
                     status: int | str | None = None) -> Any:
    """Fill the Bitbucket tab and press ``action`` (ok, apply, preview or save)."""
    form = settings_form(browser)
    form["bitbucket.enabled"] = enabled
    form["bitbucket.client_id"] = client_id
    form["bitbucket.client_secret"] = client_secret
    return form.submit("action", value=action, status=status)


def start_login(browser: Any, came_from: str | None = None) -> str:
    """Click "Log in with Bitbucket" on /login; return the authorize URL."""
    return steps.start_login(browser, "bitbucket", came_from)


def bitbucket_buttons(page: Any) -> list:
    """The "Log in with Bitbucket" buttons of a page."""
    return [a for a in page.html.select("a.provider-button")
            if "Log in with Bitbucket" in a.get_text()]


class NobodyEdits:
    """A security policy for hosts without editors (the add-on requires one)."""

    def identity(self, request):
        return None

    def authenticated_userid(self, request):
        return None

    def permits(self, request, context, permission):
        return False

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


@contextmanager
def sql_statements(app: Any) -> Iterator[list[str]]:
    """The SQL statements the site's engine runs inside the block, one line each."""
    engine = get_social_login_engine(app.registry)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


#: The logging sections of development.ini (INFO and up on the console, like a site).
DEVELOPMENT_LOGGING = (Path(__file__).resolve().parents[1] / "development.ini").read_text(
    encoding="utf-8").split("# logging configuration", 1)[1]


def write_ini(path: Path, settings: dict[str, str]) -> str:
    """An ini file like development.ini (its logging too) for a site with ``settings``."""
    lines = ["[app:main]", "use = egg:cms_social_login"]
    lines += [f"{key} = {str(value).replace('%', '%%')}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n\n#" + DEVELOPMENT_LOGGING, encoding="utf-8")
    return str(path)


def settings_command(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """``cms-social-login-settings`` in-process (``main(argv)``): the exit status, standard
    output and standard error."""
    out, err = io.StringIO(), io.StringIO()
    status = settings_io.main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@contextmanager
def demo_host(settings, user_adapter="cms_demo.users.DemoUserAdapter"):
    """The demo host assembled by hand, so a test can add its own configuration."""
    with Configurator(settings=dict(settings)) as config:
        config.include("cms_social_login")
        config.include("cms_demo.models")
        config.set_social_login_dbsession("request.dbsession")
        config.include("cms_demo.security")
        config.set_social_login_user_adapter(user_adapter)
        config.include("cms_demo.views")
        yield config
        setup_database(config.registry)
