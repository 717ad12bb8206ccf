"""With ``cms_social_login.site_url`` set, every absolute redirect the add-on makes is
under it, whatever Host header a request carries: the forbidden view, logout, the login
page after a failed callback, back to ``came_from`` after a password login, and the
editor's own redirects."""

from __future__ import annotations

import pytest
from webob import Request

from cms_social_login.testing.steps import make_browser

from ..helpers import submit_bitbucket

SITE = "https://cms.example.org"
EVIL = "evil.example"


@pytest.fixture
def app_settings(app_settings):
    return {**app_settings, "cms_social_login.site_url": SITE}


def cookie_of(browser) -> str:
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookiejar)


def send(app, path: str, *, method: str = "GET", browser=None, form=None):
    """``path`` sent with ``Host: evil.example`` (and ``browser``'s cookies)."""
    headers = {"Host": EVIL}
    if browser is not None:
        headers["Cookie"] = cookie_of(browser)
    request = Request.blank(path, method=method, headers=headers, POST=form)
    return request.get_response(app)


def csrf_token(browser, path: str) -> str:
    return browser.get(path).html.find("input", {"name": "csrf_token"})["value"]


def test_the_forbidden_view_sends_to_the_sites_login_page(app):
    response = send(app, "/editor")
    assert response.status_int == 303
    assert response.location == SITE + "/login?came_from=%2Feditor"


def test_logout_sends_to_the_sites_login_page(app, editor):
    assert send(app, "/logout").location == SITE + "/login"  # anonymous GET
    token = csrf_token(editor, "/logout")
    response = send(app, "/logout", method="POST", browser=editor,
                    form={"csrf_token": token})
    assert response.status_int == 303
    assert response.location == SITE + "/login"


def test_a_failed_callback_sends_to_the_sites_login_page(app, published_bitbucket):
    response = send(app, "/login/bitbucket/callback?state=" + "a" * 20)
    assert response.status_int == 303
    assert response.location == SITE + "/login"


def test_a_password_login_goes_back_under_the_site_url(app):
    visitor = make_browser(app)
    token = csrf_token(visitor, "/login")
    response = send(app, "/login", method="POST", browser=visitor, form={
        "csrf_token": token, "login": "editor", "password": "editor",
        "came_from": "/editor/system-pages"})
    assert response.status_int == 303
    assert response.location == SITE + "/editor/system-pages"


def test_the_editors_redirects_stay_under_the_site_url(app, editor):
    form = submit_bitbucket(editor, "apply", status=303)
    assert form.location.startswith("https://cms.example.org/editor/system-pages/login/")
    page = editor.get("/editor/system-pages/login/settings")
    fields = [(k, v) for k, v in page.forms["login-settings-form"].submit_fields()
              if k != "action"]
    response = send(app, "/editor/system-pages/login/settings", method="POST",
                    browser=editor, form=[*fields, ("action", "apply")])
    assert response.status_int == 303
    assert response.location.startswith(SITE + "/editor/system-pages/login/settings")
