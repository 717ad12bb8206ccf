"""OpenID Connect specifics: the ID token checks, key rotation, caches, several instances."""

from __future__ import annotations

import time

import pytest
from pyramid.exceptions import ConfigurationError
from sqlalchemy import select

from cms_social_login.lru import LRUCache
from cms_social_login.models import LinkedIdentity
from cms_social_login.providers.oidc import OIDCProvider
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.settings import SocialLoginSettings
from cms_social_login.testing.oidc_emulator import OIDCEmulator
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    login_buttons,
    start_login,
)

REFUSED = "could not confirm who you are"
#: Where a login that signed the visitor in goes (a failed one goes to /login).
SIGNED_IN = "http://localhost/"


def tab(emulator, **extra):
    return {"issuer": emulator.issuer, "client_id": KIT_CLIENT_ID,
            "client_secret": KIT_CLIENT_SECRET, **extra}


@pytest.fixture
def oidc(oidc_emulator):
    oidc_emulator.current_user = oidc_emulator.add_user(
        "Edsger Dijkstra", "edsger@example.org", preferred_username="ewd")
    return oidc_emulator


@pytest.fixture
def published(social_login_editor, oidc):
    fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    return social_login_editor


def login(visitor, emulator, name="oidc"):
    return visitor.get(callback_path(emulator.approve(start_login(visitor, name))))


@pytest.mark.parametrize("overrides", [
    {"iss": "https://attacker.example.com"},
    {"aud": "another-client"},
    {"aud": [KIT_CLIENT_ID, "another-client"], "azp": None},
    {"azp": "another-client"},
    {"exp": int(time.time()) - 3600},
    {"iat": int(time.time()) + 3600},
    {"nonce": "a-nonce-from-another-login"},
    {"nonce": None},
    {"sub": None},
], ids=["iss", "aud", "aud-without-azp", "azp", "expired", "future", "nonce", "no-nonce",
        "no-sub"])
def test_a_bad_id_token_is_refused(overrides, social_login_app, published,
                                   social_login_visitor, oidc):
    oidc.id_token_overrides = overrides
    back = login(social_login_visitor, oidc)
    assert REFUSED in error_message(back.follow())
    with social_login_app.registry["cms_social_login.dbsession_factory"]() as db:
        assert db.scalar(select(LinkedIdentity)) is None


def test_a_forged_signature_is_refused(published, social_login_visitor, oidc):
    oidc.forge_signature = True
    assert REFUSED in error_message(login(social_login_visitor, oidc).follow())


def test_a_second_audience_with_azp_is_accepted(published, social_login_visitor, oidc):
    oidc.id_token_overrides = {"aud": [KIT_CLIENT_ID, "api"], "azp": KIT_CLIENT_ID}
    back = login(social_login_visitor, oidc)
    assert back.location == SIGNED_IN, error_message(back.follow())
    assert "Signed in as" in back.follow().text


def test_discovery_cached_and_keys_fetched_again_after_rotation(
        published, social_login_browser, oidc):
    assert login(social_login_browser(), oidc).location == SIGNED_IN
    oidc.rotate_key()
    back = login(social_login_browser(), oidc)
    assert back.location == SIGNED_IN, error_message(back.follow())  # the new key verified
    assert len(oidc.requests_to("discovery")) == 1
    assert len(oidc.requests_to("jwks")) == 2


def test_userinfo_fills_what_the_id_token_lacks(social_login_dbsession, published,
                                                social_login_visitor, oidc):
    oidc.id_token_overrides = {"email": None, "email_verified": None, "name": None}
    back = login(social_login_visitor, oidc)
    assert back.location == SIGNED_IN, error_message(back.follow())
    assert "Edsger Dijkstra" in back.follow().text
    assert len(oidc.requests_to("userinfo")) == 1
    assert social_login_dbsession.scalar(select(LinkedIdentity)).email == "edsger@example.org"


def test_an_unverified_address_is_not_taken(social_login_dbsession, published,
                                            social_login_visitor, oidc):
    oidc.current_user = oidc.add_user("Vera", "vera@example.org", email_verified=False)
    assert login(social_login_visitor, oidc).status_int == 303
    assert social_login_dbsession.scalar(select(LinkedIdentity)).email is None


def test_the_client_secret_goes_by_basic_auth(published, social_login_visitor, oidc):
    login(social_login_visitor, oidc)
    token_call = oidc.requests_to("token")[0]
    assert token_call.headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in token_call.form


def test_the_button_title_field(social_login_app, published):
    provider = get_provider_registry(social_login_app.registry).get("oidc")
    assert provider.display_title({"button_title": " Staff "}) == "Staff"
    assert provider.display_title({}) == "OpenID Connect"


def test_an_unreachable_issuer_at_the_start_ends_on_the_login_page(social_login_editor,
                                                                   social_login_visitor,
                                                                   oidc):
    oidc.fail("discovery", 503)
    fill_tab(social_login_editor, "oidc", tab(oidc), "save").follow()
    page = social_login_visitor.get("/login/oidc", expect_errors=True)
    assert page.status_int == 200 and error_message(page)


# --------------------------------------------------------------------------- side by side


@pytest.fixture(scope="module")
def second_issuer():
    with OIDCEmulator(issuer_path="/realms/staff") as emulator:
        emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url("keycloak"))
        yield emulator


class TestSideBySide:
    """``cms_social_login.oidc.providers = google keycloak``: two tabs, two callbacks."""

    @pytest.fixture
    def social_login_settings(self, social_login_settings):
        return {**social_login_settings,
                "cms_social_login.oidc.providers": "google keycloak",
                "cms_social_login.google.title": "Google"}

    @pytest.fixture
    def google_client(self, oidc_emulator):
        """The session's emulator plays Google for this test, then "oidc" again."""
        oidc_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url("google"))
        yield
        oidc_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url("oidc"))

    def test_two_tabs_two_buttons_two_identities(self, social_login_dbsession,
                                                 social_login_editor, social_login_browser,
                                                 oidc_emulator, second_issuer, google_client):
        page = social_login_editor.get("/editor/system-pages/login/settings")
        tabs = [t.get_text(strip=True) for t in page.html.select('[role="tab"] .tab-title')]
        assert "Google" in tabs and "Keycloak" in tabs and "OpenID Connect" not in tabs
        assert callback_url("google") in page.text and callback_url("keycloak") in page.text
        assert any(label.get_text(" ", strip=True).startswith("Google Client ID")
                   for label in page.html.find_all("label"))
        fill_tab(social_login_editor, "google", tab(oidc_emulator), "apply").follow()
        fill_tab(social_login_editor, "keycloak", tab(second_issuer), "save").follow()
        visitor = social_login_browser()
        login_page = visitor.get("/login")
        assert login_buttons(login_page, "google") and login_buttons(login_page, "keycloak")
        for name, emulator in (("google", oidc_emulator), ("keycloak", second_issuer)):
            emulator.current_user = emulator.add_user(f"User of {name}", f"{name}@example.org")
            back = login(social_login_browser(), emulator, name)
            assert back.location == SIGNED_IN, error_message(back.follow())
        identities = social_login_dbsession.scalars(select(LinkedIdentity)).all()
        assert sorted(i.provider for i in identities) == ["google", "keycloak"]


def settings_with(**raw):
    return SocialLoginSettings.from_settings({
        "cms_social_login.secret_key": "x" * 40,
        **{f"cms_social_login.{k.replace('__', '.')}": v for k, v in raw.items()}})


def test_instance_names():
    assert OIDCProvider.instance_names(settings_with(), "oidc") == ("oidc",)
    assert OIDCProvider.instance_names(settings_with(oidc__providers="a, b a"), "oidc") \
        == ("a", "b")
    with pytest.raises(ConfigurationError, match="oidc.providers"):
        OIDCProvider.instance_names(settings_with(oidc__providers="Google"), "oidc")


def test_instance_titles():
    assert OIDCProvider(settings_with(), "entra-id").title == "Entra Id"
    assert OIDCProvider(settings_with(okta__title="Okta SSO"), "okta").title == "Okta SSO"
    assert OIDCProvider(settings_with(), "x1", title="Given").title == "Given"


def test_the_bounded_cache():
    cache = LRUCache(size=2, ttl=60)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") is None and cache.get("c") == "C" and len(cache) == 2
    stale = LRUCache(size=2, ttl=0)
    stale.put("a", 1)
    assert stale.get("a") is None


def test_the_button_title_names_the_button_on_the_login_page(social_login_editor,
                                                             social_login_visitor, oidc):
    fill_tab(social_login_editor, "oidc", tab(oidc, button_title="Staff sign-in"),
             "save").follow()
    page = social_login_visitor.get("/login")
    assert "Log in with Staff sign-in" in page.text
    assert "Log in with OpenID Connect" not in page.text
