"""Acme ID (made up for this example): OAuth 2.0, then ``GET /v1/me`` for the profile.

Acme ID's answer to ``/v1/me``::

    {"user_id": "acme-7f3a...", "username": "wile", "full_name": "Wile E. Coyote",
     "email": "wile@acme.example", "email_verified": true, "avatar": "https://..."}

``user_id`` never changes: it is the stable id of the login (``accounts[0]["userid"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cms_social_login.http import ProviderError
from cms_social_login.providers import OAuth2Provider

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
        user_id = me.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ProviderError("Acme ID sent a profile without an account id. "
                                "Please try again.", "GET /v1/me: no user_id")
        email = me.get("email") if isinstance(me.get("email"), str) else None
        verified = email if email and me.get("email_verified") is True else None
        username = me.get("username") if isinstance(me.get("username"), str) else None
        display_name = me.get("full_name") or username or email or user_id
        profile: dict[str, Any] = {
            "accounts": [{"domain": self.domain, "userid": user_id, "username": username}],
            "displayName": display_name,
            "preferredUsername": username,
            "name": {"formatted": display_name},
            "emails": [{"value": email, "verified": bool(verified)}] if email else [],
            "verifiedEmail": verified,
        }
        if isinstance(me.get("avatar"), str):
            profile["photos"] = [{"value": me["avatar"]}]
        return profile
