"""A local emulator of GitLab's OAuth 2.0 provider (Doorkeeper) and ``/api/v4/user``.

Everything is served under one base URL, like a self-hosted GitLab: give
:attr:`GitLabEmulator.base_url` as the tab's *GitLab URL*, or point the settings
``cms_social_login.gitlab.authorize_url`` / ``token_url`` / ``api_url`` at
:attr:`~GitLabEmulator.authorize_url`, :attr:`~GitLabEmulator.token_url` and
:attr:`~GitLabEmulator.api_url`.

What it reproduces of GitLab (from GitLab's OAuth 2.0 and Users API documentation; exact
error texts are Doorkeeper's as far as known, not verified against gitlab.com):

- scopes are requested at authorize time and must be among the application's
  (else ``error=invalid_scope`` back to the site);
- PKCE (S256 or plain) is checked when a challenge was sent; with
  :attr:`GitLabEmulator.pkce_required` (on by default here) a request without one is
  refused, which proves that a provider sends it;
- the token answer is ``{"access_token", "token_type": "Bearer", "expires_in": 7200,
  "refresh_token", "scope", "created_at"}``; a bad client is ``401 invalid_client``;
- ``/api/v4/user`` needs ``read_user`` (or ``api`` / ``read_api``); errors are
  ``{"message": "401 Unauthorized"}`` and ``403 insufficient_scope``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import webob

from .oauth2_emulator import AccessToken, AuthorizationCode, OAuth2Emulator

__all__ = ["GitLabEmulator", "GitLabUser"]


@dataclass
class GitLabUser:
    """A GitLab account; :attr:`id` is numeric (the registry key is its string)."""

    id: int
    username: str
    name: str
    email: str | None
    confirmed: bool = True
    state: str = "active"

    @property
    def display_name(self) -> str:
        """The name shown on the consent page."""
        return self.name


class GitLabEmulator(OAuth2Emulator):
    """GitLab: OAuth 2.0 with PKCE + REST API v4, all under :attr:`base_url`."""

    provider_name: ClassVar[str] = "GitLab"
    authorize_path: ClassVar[str] = "/oauth/authorize"
    token_path: ClassVar[str] = "/oauth/token"
    api_prefix: ClassVar[str] = "/api/v4"
    api_routes: ClassVar[dict[str, str]] = {"/api/v4/user": "user"}
    default_scopes: ClassVar[str] = "read_user openid profile email"
    implied_scopes: ClassVar[dict[str, tuple[str, ...]]] = {
        "api": ("read_user", "read_api"), "read_api": ("read_user",)}
    scopes_requested: ClassVar[bool] = True
    scope_field: str = "scope"
    pkce_required: bool = True
    unauthorized_message: ClassVar[str] = "401 Unauthorized"
    expired_token_message: ClassVar[str] = "401 Unauthorized"
    user_token_required_message: ClassVar[str] = "401 Unauthorized"
    insufficient_scope_message: ClassVar[str] = (
        "The request requires higher privileges than provided by the access token."
    )

    def __init__(self) -> None:
        super().__init__()
        self._gitlab_ids = itertools.count(7001)

    @property
    def authorize_url(self) -> str:
        """``https://gitlab.com/oauth/authorize`` of the emulator."""
        return self.base_url + self.authorize_path

    @property
    def token_url(self) -> str:
        """``https://gitlab.com/oauth/token`` of the emulator."""
        return self.base_url + self.token_path

    @property
    def api_url(self) -> str:
        """``https://gitlab.com/api/v4`` of the emulator."""
        return self.base_url + self.api_prefix

    def add_user(  # type: ignore[override]
        self,
        name: str,
        username: str | None = None,
        email: str | None = "",
        confirmed: bool = True,
        id: int | None = None,
    ) -> GitLabUser:
        """Register a GitLab account and return it (``email=""``: ``<username>@example.com``,
        ``None``: no address)."""
        username = username or name.lower().replace(" ", "_")
        user = GitLabUser(id=id if id is not None else next(self._gitlab_ids),
                          username=username, name=name,
                          email=f"{username}@example.com" if email == "" else email,
                          confirmed=confirmed)
        return self._register_user(user)

    def user_id(self, user: Any) -> str:
        return str(user["id"] if isinstance(user, Mapping) else user.id)

    def oauth_error(self, status: int, error: str, description: str,
                    headers: Mapping[str, str] | None = None) -> webob.Response:
        """Doorkeeper's codes: a bad client is ``401 invalid_client``."""
        if error == "unauthorized_client" and status == 401:
            error = "invalid_client"
            description = ("Client authentication failed due to unknown client, no client "
                           "authentication included, or unsupported authentication method.")
        elif error == "invalid_grant":
            description = ("The provided authorization grant is invalid, expired, revoked, "
                           "does not match the redirection URI used in the authorization "
                           "request, or was issued to another client.")
        return super().oauth_error(status, error, description, headers)

    def token_response(self, token: AccessToken, code: AuthorizationCode | None) -> dict:
        return {"access_token": token.token, "token_type": "Bearer",
                "expires_in": self.token_ttl, "refresh_token": token.refresh_token,
                "scope": " ".join(token.scopes.split()), "created_at": int(time.time())}

    def error_body(self, status: int, message: str, **detail: Any) -> Any:
        """GitLab's API envelope: ``{"message": ...}`` (403: ``insufficient_scope``)."""
        if status == 403 and "required" in detail:
            return {"error": "insufficient_scope", "error_description": message,
                    "scope": " ".join(detail["required"])}
        return {"message": message}

    def handle_user(self, request: webob.Request) -> webob.Response:
        """``GET /api/v4/user`` (scope ``read_user``)."""
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed("GET")
        token = self.require_token(request, scopes=("read_user",))
        user: GitLabUser = self.token_user(token)
        site = request.host_url
        return self.json_response({
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "state": user.state,
            "avatar_url": f"{site}/uploads/-/system/user/avatar/{user.id}/avatar.png",
            "web_url": f"{site}/{user.username}",
            "email": user.email,
            "public_email": None,
            "confirmed_at": "2024-01-02T03:04:05.000Z" if user.confirmed else None,
            "created_at": "2024-01-02T03:04:05.000Z",
        })
