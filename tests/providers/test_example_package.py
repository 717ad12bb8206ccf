"""The example third-party package (examples/acme_id): installed by pip into a temporary
folder, it shows up as a new tab through its entry point alone and passes the
conformance suite. Nothing of cms_social_login knows about it."""

from __future__ import annotations

from .helpers import AcmeIDConformance


class TestAcmeIDPackage(AcmeIDConformance):
    """The example package passes the conformance suite."""
