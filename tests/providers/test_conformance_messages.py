"""The conformance suite tells a plugin author why a check failed, not a bare
AssertionError: the login page's message when the happy path did not sign in, the id it
linked instead of the stable one, what a credentials check must return; and another
installed provider does not fail it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance

from ..helpers import answers_nothing
from .helpers import BitbucketConformance, GitHubConformance


class TestTheKitSaysWhy(BitbucketConformance):
    """Bitbucket's suite, its own checks switched off, run into failures on purpose."""

    def test_a_login_that_did_not_sign_in_shows_the_pages_message(
            self, social_login_app, conformance_published, social_login_visitor,
            conformance_emulator, conformance_user, conformance_provider):
        conformance_emulator.fail(self.profile_endpoint, 503)
        with pytest.raises(AssertionError, match="without signing in, saying '.+'"):
            ProviderConformance.test_happy_path_signs_a_new_user_in(
                self, social_login_app, conformance_published, social_login_visitor,
                conformance_emulator, conformance_user, conformance_provider)

    def test_a_login_linked_to_another_id_names_both(
            self, social_login_app, conformance_published, social_login_visitor,
            conformance_emulator, conformance_user, conformance_provider):
        expected = ExpectedUser("not-the-uuid", conformance_user.display_name)
        with pytest.raises(AssertionError, match=r"'not-the-uuid'.*accounts\[0\]"):
            ProviderConformance.test_happy_path_signs_a_new_user_in(
                self, social_login_app, conformance_published, social_login_visitor,
                conformance_emulator, expected, conformance_provider)


for _name in dir(BitbucketConformance):
    if _name.startswith("test_"):
        setattr(TestTheKitSaysWhy, _name, None)


class TestGitHubBesideALookalikeTab(GitHubConformance):
    """Another installed provider, listed first, has a field labelled like GitHub's: the
    kit reads the labels of GitHub's own tab panel."""

    @pytest.fixture(scope="class")
    @classmethod
    def social_login_extra_sys_path(cls, social_login_package_installer):
        return (str(social_login_package_installer(Path(__file__).parent / "lookalike")),)


for _name in dir(GitHubConformance):
    if _name.startswith("test_") and _name != "test_tab_renders_from_its_fields":
        setattr(TestGitHubBesideALookalikeTab, _name, None)


def test_a_credentials_check_returning_no_verification_is_named():
    provider = answers_nothing()
    suite = ProviderConformance()
    with pytest.raises(AssertionError, match=r"returned None; return "
                                             r"cms_social_login\.providers\.Verification"):
        suite.test_declared_abilities_match_the_methods(None, provider)
