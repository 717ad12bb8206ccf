"""The conformance suite for the shipped providers (the example package has its own)."""

from __future__ import annotations

from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance
from cms_social_login.testing.gitlab_emulator import GitLabEmulator
from cms_social_login.testing.oidc_emulator import OIDCEmulator

from .helpers import BitbucketConformance, GitHubConformance


class TestBitbucket(BitbucketConformance):
    """Bitbucket passes the conformance suite."""


class TestGitHub(GitHubConformance):
    """GitHub passes the conformance suite."""


class TestGitLab(ProviderConformance):
    """GitLab as a self-hosted instance: the emulator's URL is typed in the tab."""

    provider_name = "gitlab"
    invalid_values = {"client_id": "not a valid client id",
                      "base_url": "http://gitlab.example.com"}
    url_fields = ("base_url",)

    def make_emulator(self) -> GitLabEmulator:
        return GitLabEmulator()

    def provider_settings(self, emulator: GitLabEmulator) -> dict[str, str]:
        return {}

    def tab_values(self, emulator: GitLabEmulator) -> dict[str, str]:
        return {**super().tab_values(emulator), "base_url": emulator.base_url}

    def add_user(self, emulator: GitLabEmulator) -> ExpectedUser:
        user = emulator.add_user("Sid Sijbrandij", username="sid")
        emulator.current_user = user
        return ExpectedUser(stable_id=str(user.id), display_name="Sid Sijbrandij")


class TestOIDC(ProviderConformance):
    """A generic OpenID Connect provider whose issuer has a path (like Keycloak's), and
    that releases the profile's claims at userinfo only (the discovery document and the
    keys are fetched at Save, so userinfo is what a login reads)."""

    provider_name = "oidc"
    invalid_values = {"issuer": "ftp://issuer.example.com", "client_id": "has space"}
    profile_endpoint = "userinfo"
    url_fields = ("issuer",)

    def make_emulator(self) -> OIDCEmulator:
        emulator = OIDCEmulator(issuer_path="/realms/staff")
        emulator.claims_in_id_token = False
        return emulator

    def provider_settings(self, emulator: OIDCEmulator) -> dict[str, str]:
        return {}

    def tab_values(self, emulator: OIDCEmulator) -> dict[str, str]:
        return {**super().tab_values(emulator), "issuer": emulator.issuer,
                "button_title": "Staff login"}

    def add_user(self, emulator: OIDCEmulator) -> ExpectedUser:
        user = emulator.add_user("Barbara Liskov", "barbara@example.org",
                                 preferred_username="barbara")
        emulator.current_user = user
        return ExpectedUser(stable_id=user.sub, display_name="Barbara Liskov")
