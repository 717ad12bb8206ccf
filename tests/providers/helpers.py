"""What the provider tests share besides fixtures: the conformance suite set up for
Bitbucket, for GitHub (test_conformance runs them; test_conformance_messages runs them
into failures on purpose) and for the example package examples/acme_id
(test_example_package, and test_api_compatibility with the 0.x copy). Not named
``Test...``, so pytest collects them only where a test module subclasses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator
from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance
from cms_social_login.testing.github_emulator import GitHubEmulator

__all__ = ["EXAMPLE", "AcmeIDConformance", "BitbucketConformance", "GitHubConformance"]

#: The example third-party package.
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme_id"


class BitbucketConformance(ProviderConformance):
    """The conformance suite for the shipped Bitbucket provider."""

    provider_name = "bitbucket"

    def make_emulator(self) -> BitbucketEmulator:
        return BitbucketEmulator()

    def add_user(self, emulator: BitbucketEmulator) -> ExpectedUser:
        user = emulator.add_user("Grace Hopper", nickname="grace")
        emulator.current_user = user
        return ExpectedUser(stable_id=user.uuid, display_name="Grace Hopper")


class GitHubConformance(ProviderConformance):
    """The conformance suite for the shipped GitHub provider."""

    provider_name = "github"

    def make_emulator(self) -> GitHubEmulator:
        return GitHubEmulator()

    def add_user(self, emulator: GitHubEmulator) -> ExpectedUser:
        user = emulator.add_user("octocat", name="Mona Lisa Octocat")
        emulator.current_user = user
        return ExpectedUser(stable_id=str(user.id), display_name="Mona Lisa Octocat")


class AcmeIDConformance(ProviderConformance):
    """The conformance suite for the example package, with its two checks of a plug-in
    package: a new tab, and a path only its own site sees."""

    provider_name = "acme"
    profile_endpoint = "me"

    @pytest.fixture(scope="class")
    @classmethod
    def social_login_extra_sys_path(cls, social_login_package_installer):
        return (str(social_login_package_installer(EXAMPLE)),)

    def make_emulator(self):
        from acme_id_login.testing import AcmeIDEmulator

        return AcmeIDEmulator()

    def add_user(self, emulator):
        user = emulator.add_user("Wile E. Coyote", email="wile@acme.example")
        emulator.current_user = user
        return ExpectedUser(stable_id=user["id"], display_name="Wile E. Coyote")

    def test_a_new_tab_next_to_the_shipped_ones(self, social_login_editor):
        page = social_login_editor.get("/editor/system-pages/login/settings")
        tabs = [tab.get_text(strip=True) for tab in page.html.select('[role="tab"] .tab-title')]
        assert {"Acme ID", "Bitbucket", "GitHub", "GitLab"} <= set(tabs)

    def test_the_package_is_not_on_the_path_of_other_sites(self, social_login_extra_sys_path):
        import sys

        assert not set(social_login_extra_sys_path) & set(sys.path)
