"""The session is renewed at login and dropped at logout; the cookie is HttpOnly,
SameSite=Lax, and Secure when the site is served over https."""

from __future__ import annotations

from ..conftest import callback_path, start_login


def session_cookie(browser) -> str | None:
    return next((c.value for c in browser.cookiejar if c.name == "cms_session"), None)


def test_social_login_renews_the_session(published_bitbucket, visitor, bitbucket,
                                         bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    before = session_cookie(visitor)
    response = visitor.get(callback_path(location))
    after = session_cookie(visitor)
    assert before and after and before != after
    # The planted pre-login session (with its CSRF token) is gone.
    assert "cms_social_login.binding" not in str(response.headers)


def test_a_fixated_session_does_not_carry_into_the_login(published_bitbucket, visitor,
                                                         make_browser, bitbucket,
                                                         bitbucket_user):
    attacker = make_browser()
    attacker.get("/login")
    planted = session_cookie(attacker)
    visitor.set_cookie("cms_session", planted)
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    assert session_cookie(visitor) != planted
    attacker.set_cookie("cms_session", planted)
    assert "Signed in as" not in attacker.get("/").text


def test_password_login_renews_the_session(visitor):
    form = visitor.get("/login").forms[0]
    before = session_cookie(visitor)
    form["login"], form["password"] = "editor", "editor"
    form.submit()
    assert session_cookie(visitor) != before


def test_logout_drops_the_session(published_bitbucket, visitor, bitbucket, bitbucket_user):
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    signed_in = session_cookie(visitor)
    visitor.get("/logout").follow()
    assert session_cookie(visitor) != signed_in
    assert "Signed in as" not in visitor.get("/").text


def test_cookie_flags_over_http(visitor):
    header = visitor.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "secure" not in header.lower()


def test_sessions_expire(app_settings, monkeypatch):
    import time

    import webtest

    from cms_demo import main

    app = main({}, **{**app_settings, "cms_social_login.session_timeout": "60"})
    browser = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    form = browser.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    form.submit().follow()
    assert "Signed in as" in browser.get("/").text
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 61)
    assert "Signed in as" not in browser.get("/").text


def test_cookie_is_secure_over_https(app):
    import webtest

    browser = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost",
                                                  "wsgi.url_scheme": "https"})
    header = browser.get("/login").headers["Set-Cookie"]
    assert "; secure" in header.lower() and "HttpOnly" in header and "SameSite=Lax" in header
