"""Sessions: renewed at sign-in, ended on the server at logout (a copied cookie is no
longer signed in), an absolute lifetime that activity does not extend, "Log out
everywhere", logout only by POST with the CSRF token, and a ``__Host-`` cookie on https.
Anonymous visitors never touch the sessions table."""

from __future__ import annotations

import time

import webtest
from sqlalchemy import event, select

from cms_demo import main
from cms_social_login.models import SignedInSession, get_social_login_engine
from cms_social_login.services.sso import PENDING_KEY
from cms_social_login.session import TOKEN_KEY
from cms_social_login.testing.steps import log_out, make_browser, sign_in

from ..helpers import callback_path, start_login
from .helpers import Clock, copy_of, count, dbsession_of, session_cookie, session_data

HOUR = 3600
DAY = 24 * HOUR


def signed_in(browser) -> bool:
    return "Signed in as" in browser.get("/").text


def test_social_login_renews_the_session(app, published_bitbucket, visitor, bitbucket,
                                         bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    start_login(visitor)  # another login, left pending in another tab
    visitor.get("/login")  # its password form puts a CSRF token in the session
    before = session_data(app, visitor)
    assert len(before[PENDING_KEY]) == 2  # the pre-login session holds the pending logins
    assert len(before) > 1
    response = visitor.get(callback_path(location))
    assert response.location == "http://localhost/"  # signed in
    # The pre-login session is gone: nothing in it (the other pending login, the CSRF
    # token) survives.
    after = session_data(app, visitor)
    assert TOKEN_KEY in after
    assert not set(before) & set(after), after


def test_a_fixated_session_does_not_carry_into_the_login(published_bitbucket, visitor,
                                                         make_browser, bitbucket,
                                                         bitbucket_user):
    attacker = make_browser()
    start_login(attacker)  # the login's state is kept in a session: the attacker has one
    planted = session_cookie(attacker)
    visitor.set_cookie("cms_session", planted)
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    assert signed_in(visitor)  # the login happened, on the planted session
    assert session_cookie(visitor) != planted
    attacker.set_cookie("cms_session", planted)
    assert not signed_in(attacker)


def test_password_login_renews_the_session(app, published_bitbucket, visitor):
    start_login(visitor)  # a pre-login session (a visitor who only looks at /login has none)
    before = session_data(app, visitor)
    form = visitor.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    assert form.submit().location == "http://localhost/"  # signed in
    after = session_data(app, visitor)
    assert TOKEN_KEY in after
    assert not set(before) & set(after), after


def test_logout_is_a_post_with_the_csrf_token(app, editor):
    page = editor.get("/logout")
    # A GET (a link, an image on another site) shows one button and changes nothing.
    assert [button.get_text(strip=True) for button in page.html.select("main button")] \
        == ["Log out"]
    assert signed_in(editor)
    editor.post("/logout", {}, status=400)  # no CSRF token
    editor.post("/logout", {"csrf_token": "forged"}, status=400)
    assert signed_in(editor)
    landed = page.forms[0].submit().follow()
    assert landed.request.path == "/login"
    assert "You are logged out." in landed.text
    assert not signed_in(editor)
    assert "You are logged out." not in editor.get("/login").text  # said once


def test_a_cookie_copied_before_logout_gets_the_login_page(app, editor):
    copy = copy_of(app, editor)
    assert signed_in(copy)  # the copy works while the session lives...
    log_out(editor)
    # ...and not after: the editor and the connections page send it to log in.
    for path in ("/editor/system-pages/login/settings", "/account/connections"):
        response = copy.get(path, status=303)
        assert "/login?came_from=" in response.location
    assert not signed_in(copy)


def test_a_social_login_cookie_copied_before_logout_is_dead_too(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    copy = copy_of(app, visitor)
    assert signed_in(copy)
    log_out(visitor)
    assert copy.get("/account/connections", status=303).location.startswith(
        "http://localhost/login")


def test_log_out_everywhere_ends_every_session_of_the_user(app, editor):
    laptop = make_browser(app)
    sign_in(laptop)
    other_user_sessions = count(app, SignedInSession) - 2
    landed = log_out(editor, everywhere=True)
    assert "You are logged out on every browser and device." in landed.text
    assert not signed_in(laptop) and not signed_in(editor)
    assert count(app, SignedInSession) == other_user_sessions == 0


def test_activity_does_not_keep_a_copy_alive_past_the_lifetime(app, editor, monkeypatch):
    clock = Clock(monkeypatch)
    copy = copy_of(app, editor)
    # One request every 11 hours renews the cookie (12 hours of inactivity end it)...
    for _hour in range(11, 7 * 24 - 11, 11):  # at most 15 visits
        clock.advance(11 * HOUR)
        assert signed_in(copy)
    # ...but 7 days after sign-in (cms_social_login.session_lifetime) it ends anyway.
    clock.advance(22 * HOUR)
    assert not signed_in(copy)
    assert copy.get("/account/connections", status=303)


def test_the_session_lifetime_is_a_setting(app_settings, monkeypatch):
    app = main({}, **{**app_settings, "cms_social_login.session_lifetime": str(2 * HOUR)})
    browser = make_browser(app)
    sign_in(browser)
    clock = Clock(monkeypatch)
    clock.advance(HOUR)
    assert signed_in(browser)
    clock.advance(HOUR + 1)
    assert not signed_in(browser)


def test_ended_sessions_are_swept_at_the_next_sign_in(app, editor, monkeypatch):
    log_out(editor)
    stale = make_browser(app)
    sign_in(stale)
    Clock(monkeypatch).advance(8 * DAY)
    sign_in(make_browser(app))
    with dbsession_of(app) as db:
        rows = db.scalars(select(SignedInSession)).all()
    assert len(rows) == 1  # the stale one is gone; the new one stays


def test_sessions_expire_after_inactivity(app_settings, monkeypatch):
    app = main({}, **{**app_settings, "cms_social_login.session_timeout": "60"})
    browser = make_browser(app)
    sign_in(browser)
    assert signed_in(browser)
    Clock(monkeypatch).advance(61)
    assert not signed_in(browser)


def test_an_anonymous_login_page_never_touches_the_sessions_table(app, visitor):
    engine = get_social_login_engine(app.registry)
    visitor.get("/login")  # the first visit gets the cookie of the form's CSRF token
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        again = visitor.get("/login")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "Set-Cookie" not in again.headers
    assert not [s for s in statements if "social_login_sessions" in s]


def session_set_cookie(browser, referer: str) -> str:
    """The Set-Cookie header of the session that signing in with the password form gives
    (looking at the login page gives no cookie at all)."""
    page = browser.get("/login")
    assert page.headers.getall("Set-Cookie") == []
    form = next(f for f in page.forms.values() if f.action.endswith("/login"))
    form["login"], form["password"] = "editor", "editor"
    headers = form.submit(headers={"Referer": referer}, status=303).headers
    return next(h for h in headers.getall("Set-Cookie") if "cms_session=" in h)


def test_cookie_flags_over_http(visitor):
    header = session_set_cookie(visitor, "http://localhost/login")
    assert header.startswith("cms_session=")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "secure" not in header.lower()


def test_cookie_is_host_prefixed_and_secure_over_https(app):
    browser = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost",
                                                  "wsgi.url_scheme": "https"})
    header = session_set_cookie(browser, "https://localhost/login")
    assert header.startswith("__Host-cms_session=")
    assert "; secure" in header.lower() and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Path=/;" in header or header.endswith("Path=/")
    assert "domain=" not in header.lower()


def test_the_login_page_of_a_signed_in_visitor_says_who_they_are(editor):
    page = editor.get("/login?came_from=/editor")
    card = page.html.select_one(".signed-in-card")
    assert "You are signed in as Demo Editor." in card.get_text(" ", strip=True)
    continue_link = next(a for a in card.select("a") if a.get_text(strip=True) == "Continue")
    assert continue_link["href"] == "/editor"
    assert not page.html.select("form.password-form")  # no second login on top
    landed = next(form for form in page.forms.values()
                  if form.action.endswith("/logout") and "everywhere" not in form.fields
                  ).submit().follow()
    assert "You are logged out." in landed.text
    assert landed.html.select("form.password-form")


def test_the_logout_page_sends_anonymous_visitors_to_log_in(visitor):
    assert visitor.get("/logout", status=303).location == "http://localhost/login"


def _cookie_signed_with(app, salt: str, data: dict) -> str:
    """A session cookie with ``data``, signed with the site's key and ``salt``."""
    from pyramid.session import JSONSerializer
    from webob.cookies import SignedSerializer

    from cms_social_login.crypto import derive_key

    key = derive_key(app.registry.social_login_settings.secret_key, "session cookie")
    signer = SignedSerializer(key.hex(), salt, "sha512", serializer=JSONSerializer())
    moment = int(time.time())
    return signer.dumps((moment, moment, data)).decode()


def test_a_cookie_from_before_revocable_sessions_is_not_signed_in(app, editor):
    """The review's reproduction: the release before server-side sessions signed the
    cookie with the same key and Pyramid's salt and put no token in it, so nothing could
    revoke it. After the upgrade such a cookie opens nothing (everyone signs in once)."""
    assert signed_in(editor)  # the demo editor: user 1
    old = make_browser(app)
    old.set_cookie("cms_session", _cookie_signed_with(
        app, "pyramid.session.", {"auth.userid": "1", "_csrft_": "x" * 40}))
    assert old.get("/editor", status="*").status_int in (302, 303)
    assert not signed_in(old)


def test_a_session_with_a_userid_but_no_token_is_not_signed_in(app, editor):
    """A cookie signed today that holds a userid without a sessions-table token (a host
    that called ``remember`` instead of ``sign_in``, say) is not signed in: only sessions
    that logout can end are."""
    from cms_social_login.session import SALT

    forged = make_browser(app)
    forged.set_cookie("cms_session", _cookie_signed_with(app, SALT, {"auth.userid": "1"}))
    assert forged.get("/editor", status="*").status_int in (302, 303)
    assert not signed_in(forged)


def _resigned(app, browser, salt: str) -> str:
    """``browser``'s session cookie as the release with ``salt`` would have signed it."""
    from pyramid.session import JSONSerializer
    from webob.cookies import SignedSerializer

    from cms_social_login.crypto import derive_key
    from cms_social_login.session import SALT

    key = derive_key(app.registry.social_login_settings.secret_key, "session cookie").hex()
    accessed, created, data = SignedSerializer(
        key, SALT, "sha512", serializer=JSONSerializer()).loads(session_cookie(browser))
    return SignedSerializer(key, salt, "sha512", serializer=JSONSerializer()).dumps(
        (accessed, created, data)).decode()


def test_a_revocable_session_of_the_release_before_sites_stays_signed_in(app, editor):
    """The release with migration 0003 already had revocable sessions (a token checked
    against the sessions table) but signed the cookie with Pyramid's salt: upgrading to
    sites (0004) keeps those visitors signed in, and logout still ends them."""
    before_sites = make_browser(app)
    before_sites.set_cookie("cms_session", _resigned(app, editor, "pyramid.session."))
    assert signed_in(before_sites)
    log_out(before_sites)
    assert not signed_in(copy_of(app, editor))  # the same server-side session: ended


def test_a_login_in_flight_across_the_upgrade_completes(published_bitbucket, visitor,
                                                       bitbucket, bitbucket_user, app):
    location = bitbucket.approve(start_login(visitor))
    visitor.set_cookie("cms_session", _resigned(app, visitor, "pyramid.session."))
    visitor.get(callback_path(location)).follow()
    assert signed_in(visitor)
