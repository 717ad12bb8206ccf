"""OpenID Connect discovery as an outbound-call risk (issue 12, item 4).

The endpoints a discovery document announces must share the issuer's origin unless the
operator allows theirs; failed discovery and JWKS fetches are remembered briefly and
fetched at Save, so anonymous visitors never make the site hammer a dead issuer.
"""

from __future__ import annotations

import pytest

from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    start_login,
)

#: Anonymous login starts against a dead issuer in one test.
STARTS = 12


def tab(emulator):
    return {"issuer": emulator.issuer, "client_id": KIT_CLIENT_ID,
            "client_secret": KIT_CLIENT_SECRET}


@pytest.fixture
def oidc(oidc_emulator):
    # The session's emulator: make sure the client is registered for this site's "oidc".
    oidc_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url("oidc"))
    oidc_emulator.current_user = oidc_emulator.add_user("Frances Allen", "fran@example.org")
    return oidc_emulator


def flashes(page) -> str:
    return " ".join(p.get_text(" ", strip=True) for p in page.html.select("main"))


# --------------------------------------------------------------------------- origins


def test_endpoints_on_a_foreign_origin_are_refused(social_login_editor, social_login_visitor,
                                                   oidc):
    """The emulator announces its endpoints on http://localhost:<port>: the same server
    under another name, so only the origin check can refuse it."""
    oidc.endpoint_base = f"http://localhost:{oidc.port}"
    page = fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    assert "cannot be used yet" in flashes(page)
    assert "not set up correctly" in flashes(page)
    assert f":{oidc.port}" not in flashes(page)
    start = social_login_visitor.get("/login/oidc")
    assert "not set up correctly" in error_message(start)
    assert oidc.requests_to("jwks") == [] and oidc.requests_to("token") == []


class TestAnOperatorAllowedOrigin:
    @pytest.fixture
    def social_login_settings(self, social_login_settings, oidc_emulator_server):
        return {**social_login_settings, "cms_social_login.allowed_endpoint_origins":
                f"http://localhost:{oidc_emulator_server.port}"}

    def test_endpoints_on_an_allowed_origin_work(self, social_login_editor,
                                                 social_login_visitor, oidc):
        oidc.endpoint_base = f"http://localhost:{oidc.port}"
        page = fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
        assert "cannot be used yet" not in flashes(page)
        authorize = start_login(social_login_visitor, "oidc")
        assert authorize.startswith(f"http://localhost:{oidc.port}/authorize?")
        back = social_login_visitor.get(callback_path(oidc.approve(authorize)))
        assert back.location == "http://localhost/", error_message(back.follow())
        assert "Frances Allen" in back.follow().text  # signed in, not sent back to /login


# --------------------------------------------------------------------------- dead issuer


def test_a_dead_issuer_is_asked_once_per_period_however_many_visitors_start(
        social_login_app, social_login_editor, social_login_browser, oidc):
    oidc.fail("discovery", 503, times=1000)
    page = fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    # Save tried, and told the editor in words, as a warning.
    warning = page.html.select_one('p.alert-error[role="alert"]')
    assert "cannot be used yet: We could not reach OpenID Connect" in warning.get_text()
    assert "Published version" in flashes(page)  # published all the same
    assert "503" not in flashes(page)
    assert len(oidc.requests_to("discovery")) == 1
    for _ in range(STARTS):
        start = social_login_browser().get("/login/oidc")
        assert start.status_int == 200 and error_message(start)
    assert len(oidc.requests_to("discovery")) == 1  # the visitors caused none
    # When the period is over (the remembered failure is gone), one new attempt.
    provider = get_provider_registry(social_login_app.registry).get("oidc")
    provider.failure_cache.discard(oidc.issuer)
    for _ in range(STARTS):
        social_login_browser().get("/login/oidc")
    assert len(oidc.requests_to("discovery")) == 2


def test_a_save_with_a_working_issuer_fetches_what_logins_need(
        social_login_editor, social_login_visitor, oidc):
    page = fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    assert "cannot be used yet" not in flashes(page)
    assert len(oidc.requests_to("discovery")) == 1 and len(oidc.requests_to("jwks")) == 1
    back = social_login_visitor.get(callback_path(oidc.approve(
        start_login(social_login_visitor, "oidc"))))
    assert back.location == "http://localhost/", error_message(back.follow())
    assert "Frances Allen" in back.follow().text  # signed in, not sent back to /login
    # The visitor's login used what Save fetched.
    assert len(oidc.requests_to("discovery")) == 1 and len(oidc.requests_to("jwks")) == 1


def test_save_again_retries_a_remembered_failure(social_login_editor, social_login_visitor,
                                                 oidc):
    oidc.fail("discovery", 503)
    fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    assert error_message(social_login_visitor.get("/login/oidc"))
    page = fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    assert "cannot be used yet" not in flashes(page)
    assert start_login(social_login_visitor, "oidc").startswith(oidc.issuer)


def test_a_failed_jwks_fetch_is_remembered_too(social_login_editor, social_login_browser,
                                               oidc):
    oidc.fail("jwks", 500, times=1000)
    page = fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    assert "cannot be used yet" in flashes(page)
    for _ in range(3):
        visitor = social_login_browser()
        back = visitor.get(callback_path(oidc.approve(start_login(visitor, "oidc"))))
        assert error_message(back.follow())  # the login page, on a clean URL
    assert len(oidc.requests_to("jwks")) == 1


def test_the_origins_setting_is_checked_at_start():
    from pyramid.exceptions import ConfigurationError

    from cms_social_login.settings import SocialLoginSettings

    def read(value):
        return SocialLoginSettings.from_settings({
            "cms_social_login.secret_key": "k" * 40,
            "cms_social_login.allowed_endpoint_origins": value}).allowed_endpoint_origins

    assert read("https://oauth2.googleapis.com  https://graph.microsoft.com/") == (
        "https://oauth2.googleapis.com", "https://graph.microsoft.com")
    assert read("*") == ("*",)
    with pytest.raises(ConfigurationError, match="allowed_endpoint_origins"):
        read("https://oauth2.googleapis.com/token")
