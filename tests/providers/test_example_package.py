"""The example third-party package (examples/acme_id): installed by pip into a temporary
folder, it shows up as a new tab through its entry point alone and passes the
conformance suite. Nothing of cms_social_login knows about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme_id"


class TestAcmeIDPackage(ProviderConformance):
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
