"""A local emulator of GitLab's OAuth 2.0 provider (Doorkeeper), ``/api/v4/user`` and
``/api/v4/groups``.

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
  ``{"message": "401 Unauthorized"}`` and ``403 insufficient_scope``;
- ``/api/v4/groups`` needs ``read_api`` (or ``api``) and lists the groups the user is a
  member of, directly or through a parent group (every known subgroup of a group they
  belong to), ``min_access_level`` filtering by the access level; it is paginated
  (``per_page``, default 20, at most 100; ``page``) with ``X-Page``, ``X-Per-Page``,
  ``X-Total``, ``X-Next-Page`` (empty on the last page) and a ``Link`` header. The
  application registered by default does not have ``read_api``: register it with
  ``add_client(..., scopes="read_user read_api")`` to let the site request it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import webob

from .oauth2 import Abort, AccessToken, AuthorizationCode, OAuth2Emulator

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
    #: Full path -> access level (10 Guest ... 50 Owner) of the groups it is a member of.
    groups: dict[str, int] = field(default_factory=dict)

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
    api_routes: ClassVar[dict[str, str]] = {"/api/v4/user": "user",
                                            "/api/v4/groups": "groups"}
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
        self._group_ids = itertools.count(3001)
        #: Known groups: lowercase full path -> ``{"id", "full_path", ...}``.
        self.groups: dict[str, dict[str, Any]] = {}

    def add_user(  # type: ignore[override]
        self,
        name: str,
        username: str | None = None,
        email: str | None = "",
        confirmed: bool = True,
        id: int | None = None,
        groups: Iterable[str] | Mapping[str, int] = (),
    ) -> GitLabUser:
        """Register a GitLab account and return it (``email=""``: ``<username>@example.com``,
        ``None``: no address). ``groups``: full paths of the groups it is a member of
        (as Developer, 30), or a mapping full path -> access level."""
        username = username or name.lower().replace(" ", "_")
        user = GitLabUser(id=id if id is not None else next(self._gitlab_ids),
                          username=username, name=name,
                          email=f"{username}@example.com" if email == "" else email,
                          confirmed=confirmed,
                          groups=dict(groups) if isinstance(groups, Mapping)
                          else dict.fromkeys(groups, 30))
        for path in user.groups:
            self.add_group(path)
        return self._register_user(user)

    def add_group(self, full_path: str) -> dict[str, Any]:
        """Register the group ``full_path`` (and its parents) if unknown; return it."""
        with self._lock:
            parent = full_path.rpartition("/")[0]
            if parent:
                self.add_group(parent)
            known = self.groups.get(full_path.lower())
            if known is None:
                group_id = next(self._group_ids)
                name = full_path.rpartition("/")[2]
                known = self.groups[full_path.lower()] = {
                    "id": group_id, "name": name, "path": name, "full_name":
                    " / ".join(full_path.split("/")), "full_path": full_path,
                    "parent_id": self.groups[parent.lower()]["id"] if parent else None,
                    "visibility": "private"}
            return known

    def member_groups(self, user: GitLabUser, min_access_level: int = 0
                      ) -> list[dict[str, Any]]:
        """The known groups ``user`` may see at ``min_access_level`` or more: those of
        its memberships and their subgroups (inherited membership), sorted by path."""
        levels: dict[str, int] = {}
        with self._lock:
            known = list(self.groups.values())
        for group in known:
            path = group["full_path"].lower()
            for member, level in user.groups.items():
                member = member.lower()
                if path == member or path.startswith(member + "/"):
                    levels[path] = max(levels.get(path, 0), level)
        return sorted((g for g in known if levels.get(g["full_path"].lower(), -1)
                       >= min_access_level), key=lambda g: g["full_path"].lower())

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

    def handle_groups(self, request: webob.Request) -> webob.Response:
        """``GET /api/v4/groups`` (scope ``read_api``): the user's groups, paginated."""
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed("GET")
        token = self.require_token(request, scopes=("read_api",))
        user: GitLabUser = self.token_user(token)
        try:
            min_level = int(request.GET.get("min_access_level", 0))
            per_page = min(max(int(request.GET.get("per_page", 20)), 1), 100)
            page = max(int(request.GET.get("page", 1)), 1)
        except ValueError:
            raise Abort(self.api_error(400, "400 Bad request - invalid parameter")) from None
        site = request.host_url
        values = [{**group, "web_url": f"{site}/groups/{group['full_path']}",
                   "avatar_url": None}
                  for group in self.member_groups(user, min_level)]
        start = (page - 1) * per_page
        response = self.json_response(values[start:start + per_page])
        more = start + per_page < len(values)
        query = {k: v for k, v in request.GET.items() if k != "page"}
        response.headers["X-Page"] = str(page)
        response.headers["X-Per-Page"] = str(per_page)
        response.headers["X-Total"] = str(len(values))
        response.headers["X-Next-Page"] = str(page + 1) if more else ""
        if more:
            next_url = (f"{site}{request.path_info}?"
                        f"{urlencode({**query, 'page': page + 1})}")
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response
