"""Shared fixtures: a Bitbucket emulator on 127.0.0.1, a demo site on a fresh database,
and the steps an editor and a visitor take, over HTTP with WebTest."""

from __future__ import annotations

import os
import uuid

import pytest

from cms_social_login.testing import steps
from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator
from cms_social_login.testing.steps import SITE, callback_path, query_of

__all__ = ["SITE", "callback_path", "query_of"]

CALLBACK_URL = f"{SITE}/login/bitbucket/callback"
CLIENT_ID = "bbKey1234567890abcd"
CLIENT_SECRET = "bbSecret-s3cr3t-XYZ-0123456789abcdef"
SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

#: Set to a PostgreSQL URL (``postgresql+psycopg://...``) to run the PostgreSQL half of
#: the suite on that server instead of a private one (each test gets a new database).
DATABASE_ENV = "CMS_SOCIAL_LOGIN_TEST_DATABASE_URL"
#: The databases every site test runs on (comma separated; default both).
TEST_DATABASES = [name.strip() for name in os.environ.get(
    "CMS_SOCIAL_LOGIN_TEST_DATABASES", "sqlite,postgresql").split(",") if name.strip()]


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


@pytest.fixture(scope="session")
def postgresql_server():
    """A PostgreSQL server for the run: the one at CMS_SOCIAL_LOGIN_TEST_DATABASE_URL
    (its user may create databases), else a private one started from Debian's binaries.

    Skipped with the reason when neither is possible; under ``CI=true`` that fails.
    """
    from cms_social_login.testing.postgresql import (
        ExistingPostgreSQL,
        PostgreSQLServer,
        PostgreSQLUnavailable,
        postgresql_unavailable,
    )

    url = os.environ.get(DATABASE_ENV)
    if url:
        yield ExistingPostgreSQL(url)
        return
    reason = postgresql_unavailable()
    if reason is None:
        try:
            server = PostgreSQLServer().start()
        except PostgreSQLUnavailable as exc:
            reason = f"PostgreSQL did not start: {exc}"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=TEST_DATABASES)
def database_url(request, tmp_path):
    """A fresh, empty database: SQLite in a temporary folder, or a new PostgreSQL database.

    Every test that uses the site runs once on each (``[sqlite]`` / ``[postgresql]``);
    CMS_SOCIAL_LOGIN_TEST_DATABASES=sqlite (or postgresql) narrows a local run to one.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/site.sqlite"
        return
    server = request.getfixturevalue("postgresql_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def app_settings(database_url, bitbucket_server):
    """The demo site's settings, pointing Bitbucket at the emulator."""
    return {
        "sqlalchemy.url": database_url,
        "cms_social_login.secret_key": SECRET_KEY,
        "cms_social_login.http_timeout": "5",  # generous: a loaded CI machine is slow
        "cms_social_login.allow_private_provider_urls": "true",  # the emulators: loopback
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


@pytest.fixture
def editor(app):
    """A browser signed in as the demo editor."""
    browser = steps.make_browser(app)
    steps.sign_in(browser)
    return browser


@pytest.fixture
def visitor(app):
    """A fresh anonymous browser."""
    return steps.make_browser(app)


@pytest.fixture
def make_browser(app):
    """Another independent browser on the site."""
    return lambda: steps.make_browser(app)


def settings_form(browser, tab: str = "bitbucket"):
    """Open the Login setting dialog and return its form."""
    return steps.settings_form(browser, tab)


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
    return steps.start_login(browser, "bitbucket", came_from)


def bitbucket_buttons(page) -> list:
    """The "Log in with Bitbucket" buttons of a page."""
    return [a for a in page.html.select("a.provider-button")
            if "Log in with Bitbucket" in a.get_text()]
