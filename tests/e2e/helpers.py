"""What the browser tests share besides fixtures: the site's consumer at the emulator,
extra providers for the tab list, and the editor's sign-in (imported from here; the
fixtures are in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

from cms_social_login.providers.base import OAuth2Provider

SECRET_KEY = "e2e-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
CLIENT_ID = "e2eKey1234567890abcd"
CLIENT_SECRET = "e2eSecret-s3cr3t-XYZ-0123456789abcdef"
EDITOR = ("editor", "editor")


class ExampleProvider(OAuth2Provider):
    """A second provider, only for tests of the tab list (it never completes a login)."""

    name = "example"
    title = "Example ID"
    icon = (
        '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" width="20" height="20">'
        '<circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2.5"/>'
        "</svg>"
    )
    default_authorize_url = "http://127.0.0.1:9/authorize"
    default_token_url = "http://127.0.0.1:9/token"
    default_api_url = "http://127.0.0.1:9/api"
    setup_help = "Register an OAuth application at Example ID and paste its credentials here."

    def fetch_profile(self, token, values):  # pragma: no cover - never reached
        raise NotImplementedError


class AnotherProvider(ExampleProvider):
    """A third provider, so that Home and End differ from the arrow keys."""

    name = "another"
    title = "Another Login"


def sign_in_as_editor(page: Any, site: Any) -> None:
    """Open the editor; the site asks for the demo editor's username and password."""
    page.goto(site("/editor"))
    page.get_by_label("Username").fill(EDITOR[0])
    page.get_by_label("Password").fill(EDITOR[1])
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(site("/editor"))
