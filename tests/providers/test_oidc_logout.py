"""OpenID Connect RP-Initiated Logout (issue 12, item 10): when the editor ticks "Log out
at the provider too", logging out of the site also ends the session at the provider."""

from __future__ import annotations

import logging

import pytest
import requests

from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    SITE,
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    query_of,
    start_login,
)

POST_LOGOUT = f"{SITE}/logout/done"


def tab(emulator, **extra):
    return {"issuer": emulator.issuer, "client_id": KIT_CLIENT_ID,
            "client_secret": KIT_CLIENT_SECRET, **extra}


@pytest.fixture
def oidc(oidc_emulator):
    # The session's emulator: make sure the client is registered for this site's "oidc".
    oidc_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url("oidc"))
    oidc_emulator.current_user = oidc_emulator.add_user("Ada Byron", "ada@example.org")
    oidc_emulator.add_post_logout_redirect_uri(KIT_CLIENT_ID, POST_LOGOUT)
    return oidc_emulator


def log_in(visitor, emulator):
    back = visitor.get(callback_path(emulator.approve(start_login(visitor, "oidc"))))
    assert back.location == f"{SITE}/", error_message(back.follow())
    assert "Signed in as" in visitor.get("/").text
    return back


def log_out(visitor):
    """Press "Log out": a GET may show a one-button page (POST with CSRF) first."""
    answer = visitor.get("/logout")
    if answer.status_int == 200:
        form = next(f for f in answer.forms.values()
                    if (f.action or "").rstrip("/").endswith("/logout"))
        answer = form.submit()
    assert answer.status_int in (302, 303), answer.status
    return answer.location


def test_the_tab_offers_the_option(social_login_editor, oidc):
    fill_tab(social_login_editor, "oidc", tab(oidc, logout_at_provider=True), "save")
    page = social_login_editor.get("/editor/system-pages/login/settings?tab=oidc")
    box = page.html.find("input", attrs={"name": "oidc.logout_at_provider"})
    assert box["type"] == "checkbox" and box.has_attr("checked")
    assert "Log out at the provider too" in page.text


def test_logout_ends_the_session_at_the_provider_and_comes_back(
        caplog, social_login_editor, social_login_visitor, oidc):
    caplog.set_level(logging.DEBUG)
    fill_tab(social_login_editor, "oidc", tab(oidc, logout_at_provider=True), "save")
    log_in(social_login_visitor, oidc)
    location = log_out(social_login_visitor)
    assert location.startswith(oidc.issuer + "/logout?")
    params = query_of(location)
    assert params["client_id"] == KIT_CLIENT_ID
    assert params["post_logout_redirect_uri"] == POST_LOGOUT
    assert len(params["state"]) >= 16
    id_token = params["id_token_hint"]
    assert id_token.count(".") == 2  # the login's ID token, kept in the session
    assert id_token not in caplog.text  # ... and never in a log
    # The provider checks the hint and sends the browser back with the state.
    at_provider = requests.get(location, allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302, at_provider.text
    back = at_provider.headers["Location"]
    assert back.startswith(POST_LOGOUT) and query_of(back)["state"] == params["state"]
    landing = social_login_visitor.get(callback_path(back))
    assert "You are logged out" in landing.text
    assert "Signed in as" not in social_login_visitor.get("/").text


def test_without_the_option_logout_stays_on_the_site(social_login_editor,
                                                     social_login_visitor, oidc):
    fill_tab(social_login_editor, "oidc", tab(oidc), "save")
    log_in(social_login_visitor, oidc)
    location = log_out(social_login_visitor)
    assert not location.startswith(oidc.issuer)
    assert oidc.requests_to("end_session") == []
    assert "Signed in as" not in social_login_visitor.get("/").text


def test_a_provider_without_an_end_session_endpoint_logs_out_locally(
        social_login_editor, social_login_visitor, oidc):
    oidc.offers_end_session = False
    fill_tab(social_login_editor, "oidc", tab(oidc, logout_at_provider=True), "save")
    log_in(social_login_visitor, oidc)
    assert not log_out(social_login_visitor).startswith(oidc.issuer)
    assert "Signed in as" not in social_login_visitor.get("/").text


def test_the_provider_refuses_an_unregistered_return_address(oidc):
    """The emulator is no more lenient than RP-Initiated Logout §3 asks: it never
    redirects to a post-logout URI the client did not register."""
    answer = requests.get(oidc.issuer + "/logout", timeout=5, allow_redirects=False, params={
        "id_token_hint": "not.a.token", "client_id": KIT_CLIENT_ID,
        "post_logout_redirect_uri": "https://evil.example/"})
    assert answer.status_code == 400


def test_an_id_token_too_big_for_the_cookie_signs_in_and_logs_out_locally(
        social_login_editor, social_login_visitor, oidc):
    """A directory's many groups make an ID token longer than a session cookie can hold:
    the visitor signs in all the same (no 500), and the logout ends the site's session."""
    oidc.id_token_overrides = {"groups": [f"staff-team-{n:03d}" for n in range(200)]}
    fill_tab(social_login_editor, "oidc", tab(oidc, logout_at_provider=True), "save")
    log_in(social_login_visitor, oidc)
    cookie = next(c.value for c in social_login_visitor.cookiejar if c.name == "cms_session")
    assert len("cms_session=" + cookie) < 4096
    assert not log_out(social_login_visitor).startswith(oidc.issuer)
    assert "Signed in as" not in social_login_visitor.get("/").text
