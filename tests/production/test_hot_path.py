"""The hot paths cost the statements they cannot avoid, and no more.

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event on the site's
engine (``BEGIN`` / ``COMMIT`` are not cursor statements and are not counted).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from sqlalchemy import event

from ..helpers import callback_path, start_login, submit_bitbucket


@contextmanager
def counting(app):
    """Collect the SQL statements the site's engine runs inside the block."""
    engine = app.registry["cms_social_login.dbsession_factory"].kw["bind"]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def shapes(statements: list[str]) -> list[str]:
    """Each statement's verb and table, e.g. ``SELECT social_login_settings``."""
    result = []
    for statement in statements:
        words = statement.split()
        verb = words[0].upper()
        after = {"SELECT": "FROM", "INSERT": "INTO", "DELETE": "FROM", "UPDATE": "UPDATE"}
        key = after.get(verb)
        table = "?"
        if key is not None:
            upper = [w.upper() for w in words]
            if key in upper:
                table = words[upper.index(key) + 1]
        result.append(f"{verb} {table}")
    return result


def test_login_page_costs_one_indexed_read(app, published_bitbucket, visitor):
    visitor.get("/login")  # the first request of the process after Save loads the document
    with counting(app) as statements:
        page = visitor.get("/login")
    assert "Log in with Bitbucket" in page.text
    # 1. SELECT version, updated_at FROM social_login_settings WHERE stage = 'published':
    #    the primary-key read that proves the process's cached document is still the
    #    published one. Nothing else: an anonymous visitor has no account to load, and
    #    the session lives in a signed cookie.
    assert shapes(statements) == ["SELECT social_login_settings"], statements
    assert "document" not in statements[0]


def test_a_save_costs_the_next_login_page_one_more_read(app, published_bitbucket, visitor):
    visitor.get("/login")
    form = published_bitbucket.get(
        "/editor/system-pages/login/settings?tab=bitbucket").forms["login-settings-form"]
    form["bitbucket.enabled"] = False
    form.submit("action", value="save").follow()
    with counting(app) as statements:
        page = visitor.get("/login")
    assert "Log in with Bitbucket" not in page.text
    # 1. the version read sees a new version; 2. the published row with its document.
    assert shapes(statements) == ["SELECT social_login_settings"] * 2, statements
    assert "document" in statements[1]


def test_starting_a_login_costs_three_statements(app, published_bitbucket, visitor,
                                                 bitbucket, bitbucket_user):
    visitor.get("/login")
    with counting(app) as statements:
        start_login_response = visitor.get("/login/bitbucket")
    assert start_login_response.status_int == 302
    assert shapes(statements) == [
        "SELECT social_login_settings",  # the published version (cached document)
        "DELETE social_login_states",    # expired states, through the created_at index
        "INSERT social_login_states",    # this login's single-use state
    ], statements


def test_callback_of_a_returning_user(app, published_bitbucket, visitor, make_browser,
                                      bitbucket, bitbucket_user):
    first = make_browser()
    first.get(callback_path(bitbucket.approve(start_login(first)))).follow()
    authorize = start_login(visitor)
    back = callback_path(bitbucket.approve(authorize))
    with counting(app) as statements:
        response = visitor.get(back)
    assert response.status_int == 303
    assert shapes(statements) == [
        "SELECT social_login_settings",    # the published version (cached document)
        "SELECT social_login_states",      # the state, by its primary key (hash)
        "DELETE social_login_states",      # consumed: single use, by primary key
        "SELECT social_login_identities",  # the identity: one read of the unique index
                                           # on (provider, issuer, provider_user_id)
        "SELECT demo_users",               # the host's account exists (user adapter)
        "UPDATE social_login_identities",  # last login time, name and email
        "DELETE social_login_sessions",    # ended sessions swept (expires_at index)
        "INSERT social_login_audit",       # the sign-in, in the audit log
        "INSERT social_login_sessions",    # this sign-in's session, revocable at logout
    ], statements
    identity_lookup = statements[3]
    assert "social_login_identities.provider =" in identity_lookup
    assert "social_login_identities.issuer =" in identity_lookup
    assert "social_login_identities.provider_user_id =" in identity_lookup


def test_a_stated_bound_spares_even_the_version_read(app_settings, app, published_bitbucket,
                                                     monkeypatch):
    import webtest

    from cms_demo import main
    from cms_social_login.services import published

    # A second process of the same site, configured to trust a check for 30 seconds.
    bounded = main({}, **{**app_settings, published.MAX_AGE_SETTING: "30"})
    try:
        other = webtest.TestApp(bounded, extra_environ={"HTTP_HOST": "localhost"})
        assert "Log in with Bitbucket" in other.get("/login").text
        with counting(bounded) as statements:
            assert "Log in with Bitbucket" in other.get("/login").text
        assert statements == []
        # A Save on the first process shows on this one within the bound, not at once.
        submit_bitbucket(published_bitbucket, "save", enabled=False).follow()
        assert "Log in with Bitbucket" in other.get("/login").text
        later = time.monotonic() + 31
        monkeypatch.setattr(published.time, "monotonic", lambda: later)
        with counting(bounded) as statements:
            assert "Log in with Bitbucket" not in other.get("/login").text
        assert shapes(statements) == ["SELECT social_login_settings"] * 2
    finally:
        bounded.registry["cms_social_login.dbsession_factory"].kw["bind"].dispose()
