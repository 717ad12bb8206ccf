"""A local Acme ID for tests: the kit's OAuth 2.0 emulator plus ``GET /v1/me``."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

import webob

from cms_social_login.testing.oauth2_emulator import OAuth2Emulator


class AcmeIDEmulator(OAuth2Emulator):
    """Acme ID on 127.0.0.1: ``/oauth2/authorize``, ``/oauth2/token``, ``/v1/me``."""

    provider_name: ClassVar[str] = "Acme ID"
    authorize_path: ClassVar[str] = "/oauth2/authorize"
    token_path: ClassVar[str] = "/oauth2/token"
    api_routes: ClassVar[dict[str, str]] = {"/v1/me": "me"}
    default_scopes: ClassVar[str] = "profile email"
    scopes_requested: ClassVar[bool] = True
    scope_field: str = "scope"
    #: ``authorize_url``, ``token_url`` and ``api_url`` (the base class builds them from
    #: these paths) are what ``cms_social_login.acme.*`` settings point at.
    api_prefix: ClassVar[str] = "/v1"

    def add_user(self, full_name: str, email: str | None = None,  # type: ignore[override]
                 email_verified: bool = True, username: str | None = None) -> dict[str, Any]:
        """An Acme ID account (a dict; ``id`` is its ``user_id``)."""
        username = username or full_name.split()[0].lower()
        return super().add_user(id=f"acme-{secrets.token_hex(8)}", full_name=full_name,
                                display_name=full_name, username=username,
                                email=email or f"{username}@acme.example",
                                email_verified=email_verified)

    def handle_me(self, request: webob.Request) -> webob.Response:
        """``GET /v1/me`` (scope ``profile``)."""
        token = self.require_token(request, scopes=("profile",))
        user = self.token_user(token)
        return self.json_response({
            "user_id": user["id"], "username": user["username"],
            "full_name": user["full_name"], "email": user["email"],
            "email_verified": user["email_verified"],
        })
