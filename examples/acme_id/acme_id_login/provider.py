"""Acme ID (made up for this example): OAuth 2.0, then ``GET /v1/me`` for the profile.

Acme ID's answer to ``/v1/me``::

    {"user_id": "acme-7f3a...", "username": "wile", "full_name": "Wile E. Coyote",
     "email": "wile@acme.example", "email_verified": true, "avatar": "https://..."}

``user_id`` never changes: it is the stable id of the login (``accounts[0]["userid"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cms_social_login.providers import Email, OAuth2Provider, ProviderError, build_profile
from cms_social_login.providers.profile import text

ACME_ICON = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" width="20" height="20">'
    '<path fill="currentColor" d="M12 2 2 22h5l2-4h6l2 4h5zm0 7 2 5h-4z"/></svg>'
)


class AcmeIDProvider(OAuth2Provider):
    """Log in with Acme ID."""

    name = "acme"
    title = "Acme ID"
    domain = "id.acme.example"
    icon = ACME_ICON
    # Each can be moved by a setting: cms_social_login.acme.authorize_url, ...
    default_authorize_url = "https://id.acme.example/oauth2/authorize"
    default_token_url = "https://id.acme.example/oauth2/token"
    default_api_url = "https://api.acme.example/v1"
    scopes = ("profile", "email")
    client_auth = "basic"
    setup_steps = (
        "In the Acme ID developer console, create a web application.",
        "Paste ${callback_url} as its redirect URL.",
        "Tick the profile and email permissions.",
        "Copy its client ID and secret into the two fields below.",
    )

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        me = self.api_get(f"{self.api_url}/me", token["access_token"])
        user_id = text(me.get("user_id"))
        if user_id is None:
            raise ProviderError("Acme ID sent a profile without an account id. "
                                "Please try again.", "GET /v1/me: no user_id")
        email = text(me.get("email"))
        return build_profile(
            domain=self.domain, userid=user_id, username=text(me.get("username")),
            display_name=text(me.get("full_name")),
            emails=[Email(email, primary=True, verified=me.get("email_verified") is True)]
            if email else [],
            photo=text(me.get("avatar")))
