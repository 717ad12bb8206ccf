"""Acme ID passes cms_social_login's conformance suite (``pytest`` in this folder, with
this package and ``cms_social_login[test]`` installed: its kit is a pytest plugin)."""

from acme_id_login.testing import AcmeIDEmulator

from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance


class TestAcmeID(ProviderConformance):
    provider_name = "acme"
    profile_endpoint = "me"

    def make_emulator(self):
        return AcmeIDEmulator()

    def add_user(self, emulator):
        user = emulator.add_user("Wile E. Coyote", email="wile@acme.example")
        emulator.current_user = user
        return ExpectedUser(stable_id=user["id"], display_name="Wile E. Coyote")
