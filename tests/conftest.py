"""Shared fixtures: a Bitbucket emulator on 127.0.0.1, a demo site on a fresh database,
and the steps an editor and a visitor take, over HTTP with WebTest."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest

from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator

SITE = "http://localhost"
CALLBACK_URL = f"{SITE}/login/bitbucket/callback"
CLIENT_ID = "bbKey1234567890abcd"
CLIENT_SECRET = "bbSecret-s3cr3t-XYZ-0123456789abcdef"
SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

#: Set to a PostgreSQL URL (``postgresql+psycopg://...``) to run the suite there.
DATABASE_ENV = "CMS_SOCIAL_LOGIN_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def bitbucket_server():
    """One Bitbucket emulator for the whole run, with the site's OAuth consumer."""
    with BitbucketEmulator() as emulator:
        emulator.add_client(CLIENT_ID, CLIENT_SECRET, callback_url=CALLBACK_URL)
        yield emulator


@pytest.fixture
def bitbucket(bitbucket_server):
    """The emulator with no pending codes, tokens, failures or log."""
    bitbucket_server.reset()
    yield bitbucket_server
    bitbucket_server.reset()


@pytest.fixture
def bitbucket_user(bitbucket):
    """A Bitbucket account whose primary address is confirmed, logged in at Bitbucket."""
    user = bitbucket.add_user("Ada Lovelace", nickname="ada",
                              emails=[{"email": "old@example.org", "is_primary": False,
                                       "is_confirmed": True},
                                      {"email": "ada@example.org", "is_primary": True,
                                       "is_confirmed": True}])
    bitbucket.current_user = user
    return user


@pytest.fixture
def database_url(tmp_path):
    """A fresh, empty database: SQLite in a temporary folder, or PostgreSQL if configured."""
    url = os.environ.get(DATABASE_ENV)
    if not url:
        yield f"sqlite:///{tmp_path}/site.sqlite"
        return
    from sqlalchemy import create_engine

    from cms_demo.models import Base as DemoBase
    from cms_social_login.models import metadata

    engine = create_engine(url)
    DemoBase.metadata.drop_all(engine)
    metadata.drop_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def app_settings(database_url, bitbucket_server):
    """The demo site's settings, pointing Bitbucket at the emulator."""
    return {
        "sqlalchemy.url": database_url,
        "cms_social_login.secret_key": SECRET_KEY,
        "cms_social_login.http_timeout": "2",
        "cms_social_login.bitbucket.authorize_url": bitbucket_server.authorize_url,
        "cms_social_login.bitbucket.token_url": bitbucket_server.token_url,
        "cms_social_login.bitbucket.api_url": bitbucket_server.api_url,
        "cms_demo.setup_database": "true",
        "retry.attempts": "3",
    }


@pytest.fixture
def app(app_settings):
    """The demo site's WSGI app on a fresh database."""
    from cms_demo import main

    application = main({}, **app_settings)
    yield application
    application.registry["cms_social_login.dbsession_factory"].kw["bind"].dispose()


def _testapp(app):
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})


@pytest.fixture
def editor(app):
    """A browser signed in as the demo editor."""
    browser = _testapp(app)
    page = browser.get("/login")
    form = page.forms[0]
    form["login"] = "editor"
    form["password"] = "editor"
    form.submit().follow()
    return browser


@pytest.fixture
def visitor(app):
    """A fresh anonymous browser."""
    return _testapp(app)


@pytest.fixture
def make_browser(app):
    """Another independent browser on the site."""
    return lambda: _testapp(app)


def settings_form(browser, tab: str = "bitbucket"):
    """Open the Login setting dialog and return its form."""
    page = browser.get(f"/editor/system-pages/login/settings?tab={tab}")
    return page.forms["login-settings-form"]


def submit_bitbucket(browser, action: str, *, client_id: str = CLIENT_ID,
                     client_secret: str = CLIENT_SECRET, enabled: bool = True, status=None):
    """Fill the Bitbucket tab and press ``action`` (ok, apply, preview or save)."""
    form = settings_form(browser)
    form["bitbucket.enabled"] = enabled
    form["bitbucket.client_id"] = client_id
    form["bitbucket.client_secret"] = client_secret
    return form.submit("action", value=action, status=status)


@pytest.fixture
def published_bitbucket(editor):
    """The editor has saved (published) a working Bitbucket tab."""
    submit_bitbucket(editor, "save").follow()
    return editor


def start_login(browser, came_from: str | None = None) -> str:
    """Click "Log in with Bitbucket" on /login; return the authorize URL."""
    page = browser.get("/login" + (f"?came_from={came_from}" if came_from else ""))
    links = bitbucket_buttons(page)
    assert links, "no Bitbucket button on the login page"
    response = browser.get(links[0]["href"])
    assert response.status_int == 302
    return response.location


def bitbucket_buttons(page) -> list:
    """The "Log in with Bitbucket" buttons of a page."""
    return [a for a in page.html.select("a.provider-button")
            if "Log in with Bitbucket" in a.get_text()]


def callback_path(location: str) -> str:
    """The path and query of a redirect back to the site."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == SITE, location
    return parts.path + ("?" + parts.query if parts.query else "")


def query_of(url: str) -> dict[str, str]:
    """The query parameters of ``url`` (first value of each)."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
