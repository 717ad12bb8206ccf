"""Provider API 1.0 and the providers written before it: the example package exactly as
it was written against 0.x still works (it passes the conformance suite), and a provider
that relies on what 1.0 changed stops the site's start with a message that says what to
change."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from cms_social_login.providers import get_provider_registry
from cms_social_login.providers.base import OAuth2Provider, Provider
from cms_social_login.testing.plugin import KIT_SECRET_KEY

from .helpers import EXAMPLE, AcmeIDConformance

ACME_ID_0X = Path(__file__).resolve().parent / "acme_id_0x"


class TestAcmeIDWrittenFor0x(AcmeIDConformance):
    """``examples/acme_id`` before API 1.0 (a hand-built profile, the errors imported from
    ``cms_social_login.http``), installed by pip: it plugs in and passes as it is."""

    @pytest.fixture(scope="class")
    @classmethod
    def social_login_extra_sys_path(cls, social_login_package_installer):
        return (str(social_login_package_installer(ACME_ID_0X)),)

    def make_emulator(self):
        """The example's own emulator (the 0.x copy is only the provider)."""
        spec = importlib.util.spec_from_file_location(
            "acme_id_emulator", EXAMPLE / "acme_id_login" / "testing.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.AcmeIDEmulator()


def start_with(provider: type) -> Registry:
    """Start a site offering ``provider`` (the configuration is committed); its registry."""
    config = Configurator(settings={
        "cms_social_login.secret_key": KIT_SECRET_KEY,
        "cms_social_login.providers": f"{provider.name} bitbucket",
        "sqlalchemy.url": "sqlite://"})
    config.include("cms_social_login")
    config.set_security_policy(object())
    config.add_social_login_provider(provider)
    config.commit()
    return config.registry


def refusal_at_start(provider: type) -> str:
    """The message of the ConfigurationError a site offering ``provider`` fails to start with."""
    with pytest.raises(ConfigurationError) as failed:
        start_with(provider)
    return str(failed.value)


class RequestFlow0x(Provider):
    """A non-OAuth provider of 0.x: the request and five values in each call."""

    name = "legacy"
    title = "Legacy"

    def authorize_redirect(self, request, values, state, redirect_uri, code_verifier, nonce):
        return "https://legacy.example/login?state=" + state

    def complete(self, request, values, params, redirect_uri, code_verifier, nonce):
        raise NotImplementedError


def test_a_0x_signature_fails_at_start_saying_what_to_write():
    message = refusal_at_start(RequestFlow0x)
    assert "provider 'legacy'" in message and "RequestFlow0x" in message
    assert "authorize_redirect(self, login) with a LoginContext" in message
    assert "complete(self, login, params)" in message


class BlogPostGitea0x(OAuth2Provider):
    """An OAuth 2.0 provider as a 0.x blog post wrote it: its own authorize redirect,
    only to send a scope."""

    name = "blogged"
    title = "Blogged"
    scopes = ("read:user",)

    def authorize_redirect(self, request, values, state, redirect_uri, code_verifier=None,
                           nonce=None):
        return f"https://git.example/login/oauth/authorize?state={state}&scope=read:user"

    def fetch_profile(self, token, values):
        raise NotImplementedError


def test_a_0x_authorize_redirect_of_an_oauth2_provider_may_simply_go():
    message = refusal_at_start(BlogPostGitea0x)
    assert "authorize_redirect(self, login) with a LoginContext" in message
    assert ("or delete it (OAuth2Provider builds the authorize URL from scopes, uses_pkce "
            "and authorize_scopes(values))") in message


def test_a_0x_flow_of_a_bare_provider_is_not_told_to_delete_it():
    assert "delete it" not in refusal_at_start(RequestFlow0x)


class TokenErrors0x(OAuth2Provider):
    """GitHub-like quirks written as 0.x hooks that 1.0 no longer calls."""

    name = "quirky"
    title = "Quirky"

    def read_token_response(self, response):
        raise NotImplementedError

    def authorize_params(self, values, state, redirect_uri, code_verifier, nonce):
        raise NotImplementedError

    def fetch_profile(self, token, values):
        raise NotImplementedError


def test_a_hook_1_0_no_longer_calls_fails_at_start_naming_its_replacement():
    message = refusal_at_start(TokenErrors0x)
    assert "read_token_response() is no longer called" in message
    assert "token_error_codes = {its code: the RFC 6749 code}" in message
    assert "authorize_params() is no longer called" in message
    assert "authorize_scopes(values)" in message


class UndeclaredLogout(OAuth2Provider):
    """0.x found optional abilities by looking: 1.0 wants them declared."""

    name = "logsout"
    title = "Logs Out"

    def logout_url(self, values, id_token, post_logout_redirect_uri, state):
        return "https://logsout.example/end"

    def fetch_profile(self, token, values):
        raise NotImplementedError


class DeclaredButMissing(Provider):
    name = "boaster"
    title = "Boaster"
    can_refresh = True

    def authorize_redirect(self, login):
        return "https://boaster.example/login"

    def complete(self, login, params):
        raise NotImplementedError


@pytest.mark.parametrize(("provider", "expected"), [
    (UndeclaredLogout, "implements logout_url() but does not declare can_log_out = True"),
    (DeclaredButMissing, "declares can_refresh but does not implement refresh()"),
])
def test_abilities_and_methods_that_disagree_fail_at_start(provider, expected):
    with pytest.raises(ConfigurationError, match=expected.replace("(", r"\(").replace(
            ")", r"\)")):
        start_with(provider)


def test_a_provider_written_for_1_0_starts():
    class Fine(DeclaredButMissing):
        name = "fine"
        can_refresh = False

    assert isinstance(get_provider_registry(start_with(Fine)).get("fine"), Fine)
