"""What the provider tests share besides fixtures: the conformance suite set up for
Bitbucket and for GitHub (test_conformance runs them; test_conformance_messages runs them
into failures on purpose). Not named ``Test...``, so pytest collects them only where a test
module subclasses them."""

from __future__ import annotations

from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator
from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance
from cms_social_login.testing.github_emulator import GitHubEmulator

__all__ = ["BitbucketConformance", "GitHubConformance"]


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
