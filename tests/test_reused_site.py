"""The site is built once per worker for the same settings and reused (``app`` here, the
kit's ``social_login_app``): each test gets it as a site freshly built on a fresh database
would be. What one test leaves in the site's memory or its database, the next never sees."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import select

from cms_social_login.cached_state import PROCESS_STATE_KEYS, forget_cached_state
from cms_social_login.models import LoginSettings, PublishRecord
from cms_social_login.models.records import SignedInSession
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.services.published import site_cache, site_pages
from cms_social_login.testing import steps
from cms_social_login.testing.site_pool import SitePool

from .helpers import bitbucket_buttons, callback_path, start_login, submit_bitbucket
from .security.helpers import dbsession_of


def rows(app) -> dict[str, list]:
    """The rows a Save and a sign-in write."""
    with dbsession_of(app) as db:
        return {model.__name__: db.scalars(select(model)).all()
                for model in (LoginSettings, PublishRecord, SignedInSession)}


@pytest.mark.fresh_app
def test_every_key_the_site_keeps_is_one_forget_cached_state_forgets(
        app, make_browser, bitbucket, bitbucket_user):
    started = set(app.registry)  # the registry as the start left it (a site of its own)
    editor, visitor = make_browser(), make_browser()
    steps.sign_in(editor)
    submit_bitbucket(editor, "save").follow()
    visitor.get("/login")
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    editor.get("/editor/system-pages/login/audit")
    kept = set(app.registry) - started
    assert kept and kept <= set(PROCESS_STATE_KEYS)
    forget_cached_state(app.registry)
    assert set(app.registry) == started
    assert bitbucket_buttons(make_browser().get("/login"))  # read from the database again


def reset_site_database(request, database_kind: str) -> str:
    """What ``site_database_url`` does before each test: the worker's database put back to
    its template."""
    pool = request.getfixturevalue("social_login_site_pool")
    if database_kind == "sqlite":
        return pool.sqlite_database(request.getfixturevalue("social_login_database_template"))
    return request.getfixturevalue("postgresql_site_databases")(
        request.getfixturevalue("postgresql_template"))


def test_the_pool_hands_its_site_to_the_next_test_as_new(
        request, app_settings, social_login_site_pool, database_kind, bitbucket,
        oidc_emulator):
    """What the fixtures do between two tests, in order: a test publishes and fills the
    site's caches; the next one gets the same site as new."""
    with social_login_site_pool.site(app_settings) as app:
        editor = steps.make_browser(app)
        steps.sign_in(editor)
        submit_bitbucket(editor, "save").follow()
        assert bitbucket_buttons(steps.make_browser(app).get("/login"))
        assert site_cache(app.registry).keys() == ["default"]
        assert site_pages(app.registry).keys() == ["default"]
        providers = get_provider_registry(app.registry)
        oidc = providers.get("oidc")
        assert oidc.warm({"issuer": oidc_emulator.issuer}) is None
        assert len(oidc.discovery_cache) == len(oidc.jwks_cache) == 1
        clients = {p.name: p.http for p in providers if hasattr(p, "http")}
        assert all(rows(app).values())
    assert reset_site_database(request, database_kind) == app_settings["sqlalchemy.url"]
    with social_login_site_pool.site(app_settings) as again:
        assert again is app  # reused, not built again
        # Nothing of the last test in memory: no published settings, pages, watch, sweeps...
        assert [key for key in PROCESS_STATE_KEYS if key in again.registry] == []
        providers = get_provider_registry(again.registry)
        oidc = providers.get("oidc")
        assert len(oidc.discovery_cache) == len(oidc.jwks_cache) == 0
        for name, http in clients.items():  # new clients: no call in flight, no pool
            assert providers.get(name).http is not http
        # ...nor in the database: the login page has no button, no Save, no session rows.
        assert not bitbucket_buttons(steps.make_browser(again).get("/login"))
        assert rows(again) == {"LoginSettings": [], "PublishRecord": [], "SignedInSession": []}
        assert site_cache(again.registry).keys() == ["default"]  # read again: unpublished


def test_forgetting_opens_nothing_for_a_provider_that_made_no_call(app):
    """A client that never called has no connection pool; forgetting it makes none (the
    old way built a ``requests.Session`` per provider only to close it)."""
    clients = [p.http for p in get_provider_registry(app.registry) if hasattr(p, "http")]
    assert clients and all(client._session is None for client in clients)
    forget_cached_state(app.registry)
    assert all(client._session is None for client in clients)


def test_a_transaction_left_open_on_the_sqlite_file_does_not_stop_the_next_reset(
        tmp_path, social_login_database_template):
    """A connection a test left inside a transaction keeps a lock on the worker's SQLite
    file; the next test's reset gives up on that file after a moment and copies the
    template into a new one (SQLite's backup would wait for the lock for ever)."""
    pool = SitePool(tmp_path)
    first = pool.sqlite_database(social_login_database_template)
    left_open = sqlite3.connect(first.removeprefix("sqlite:///"), isolation_level=None)
    left_open.execute("BEGIN")
    left_open.execute("SELECT * FROM social_login_settings").fetchall()  # a read lock
    reset: list[str] = []
    worker = threading.Thread(target=lambda: reset.append(
        pool.sqlite_database(social_login_database_template)), daemon=True)
    worker.start()
    worker.join(timeout=15)
    left_open.close()
    worker.join(timeout=15)
    assert reset and reset[0] != first, "the reset waited for the lock"
    with sqlite3.connect(reset[0].removeprefix("sqlite:///")) as copy:
        assert copy.execute("SELECT count(*) FROM social_login_settings").fetchone() == (0,)
    assert pool.sqlite_database(social_login_database_template) == reset[0]  # kept
