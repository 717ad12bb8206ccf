"""A local emulator of Bitbucket Cloud's OAuth 2.0 endpoints and REST API 2.0.

bitbucket.org's ``/site/oauth2/authorize`` and ``/site/oauth2/access_token``
and api.bitbucket.org's ``/2.0/user``, ``/2.0/user/emails``, ``/2.0/user/workspaces``
and ``/2.0/user/permissions/workspaces`` are all served from one port: point the
provider's settings at :attr:`BitbucketEmulator.authorize_url`,
:attr:`BitbucketEmulator.token_url` and :attr:`BitbucketEmulator.api_url`.

Facts it follows (source: /work/shared/BITBUCKET.md, gathered from Atlassian's
documentation):

- the token answer names the granted scopes ``scope`` (since May 2026; ``scopes``
  before): :attr:`BitbucketEmulator.scope_field`;
- the user's workspaces: the documented ``GET /2.0/user/permissions/workspaces``
  (deprecated under CHANGE-2770 but answering; values ``{"type": "workspace_membership",
  "permission": "owner|collaborator|member", "workspace": {...}}``) and the newer
  ``GET /2.0/user/workspaces`` (values ``{"type": "workspace_access", "administrator":
  bool, "workspace": {...}}``); :attr:`BitbucketEmulator.membership_endpoints` says which
  of them answer (the other is a 404, as a removed endpoint would be).

Example::

    with BitbucketEmulator() as bitbucket:
        bitbucket.add_client("key", "secret", "http://site.test/login/bitbucket/callback")
        bitbucket.add_user("Foo Bar", emails=["foo@example.com"])
        ...
"""

from __future__ import annotations

import datetime
import re
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import webob

from .oauth2 import Abort, OAuth2Emulator

__all__ = [
    "BitbucketEmail",
    "BitbucketEmulator",
    "BitbucketUser",
    "BitbucketWorkspace",
    "WorkspaceMembership",
]


def _braced_uuid(value: str | None = None) -> str:
    value = value or str(uuid_module.uuid4())
    return value if value.startswith("{") else "{" + value.strip("{}") + "}"


@dataclass
class BitbucketEmail:
    """An address in ``/2.0/user/emails``."""

    email: str
    is_primary: bool = False
    is_confirmed: bool = True


@dataclass
class BitbucketWorkspace:
    """A workspace (shared between the users that belong to it)."""

    slug: str
    uuid: str
    name: str


@dataclass
class WorkspaceMembership:
    """A user's access to a workspace, as listed by ``/2.0/user/workspaces``."""

    workspace: BitbucketWorkspace
    administrator: bool = False


@dataclass
class BitbucketUser:
    """A Bitbucket account; :attr:`id` (the registry key) is the braced ``uuid``."""

    uuid: str
    account_id: str
    nickname: str
    display_name: str
    emails: list[BitbucketEmail] = field(default_factory=list)
    workspaces: list[WorkspaceMembership] = field(default_factory=list)
    created_on: str = ""
    account_status: str = "active"

    @property
    def id(self) -> str:
        """The registry key: the braced uuid."""
        return self.uuid

    @property
    def primary_email(self) -> str | None:
        """The primary address, if any."""
        return next((e.email for e in self.emails if e.is_primary), None)


class BitbucketEmulator(OAuth2Emulator):
    """Bitbucket Cloud: OAuth 2.0 (bitbucket.org) + REST API 2.0 (api.bitbucket.org)."""

    provider_name: ClassVar[str] = "Bitbucket"
    # BITBUCKET.md: "PKCE: not documented for Bitbucket Cloud; do not rely on it". The
    # emulator ignores code_challenge / code_verifier, so nothing can pass here by
    # relying on a check the live service is not documented to make.
    pkce_supported: ClassVar[bool] = False
    authorize_path: ClassVar[str] = "/site/oauth2/authorize"
    token_path: ClassVar[str] = "/site/oauth2/access_token"
    api_prefix: ClassVar[str] = "/2.0"
    api_routes: ClassVar[dict[str, str]] = {
        "/2.0/user": "user",
        "/2.0/user/emails": "emails",
        "/2.0/user/workspaces": "workspaces",
        "/2.0/user/permissions/workspaces": "permissions_workspaces",
    }
    default_scopes: ClassVar[str] = "account email"
    #: Bitbucket's token answers carry ``scope`` since May 2026 (BITBUCKET.md).
    scope_field: str = "scope"
    #: Both membership endpoints answer by default (BITBUCKET.md).
    all_membership_endpoints: ClassVar[frozenset[str]] = frozenset(
        {"workspaces", "permissions_workspaces"})
    implied_scopes: ClassVar[dict[str, tuple[str, ...]]] = {
        "account:write": ("account",),
    }
    #: Pagination: default and largest ``pagelen``.
    default_pagelen: ClassVar[int] = 10
    max_pagelen: ClassVar[int] = 100

    unauthorized_message: ClassVar[str] = "Unauthorized"
    expired_token_message: ClassVar[str] = "Access token expired."
    query_token_message: ClassVar[str] = (
        "Access tokens are only accepted in the Authorization header."
    )
    user_token_required_message: ClassVar[str] = (
        "This API is only accessible with a user access token."
    )
    insufficient_scope_message: ClassVar[str] = (
        "Your credentials lack one or more required privilege scopes."
    )

    def __init__(self) -> None:
        super().__init__()
        self.workspaces: dict[str, BitbucketWorkspace] = {}
        #: The membership endpoints that answer (``"workspaces"``: ``/2.0/user/workspaces``,
        #: ``"permissions_workspaces"``: ``/2.0/user/permissions/workspaces``); the others
        #: are 404. Tests switch it; :meth:`reset` restores both.
        self.membership_endpoints: set[str] = set(self.all_membership_endpoints)

    # ------------------------------------------------------------------ users

    def add_user(  # type: ignore[override]
        self,
        display_name: str,
        nickname: str | None = None,
        emails: Iterable[str | Mapping[str, Any]] | None = None,
        workspaces: Iterable[str | Mapping[str, Any]] = (),
        uuid: str | None = None,
        account_id: str | None = None,
    ) -> BitbucketUser:
        """Register a Bitbucket account and return it.

        ``emails``: plain strings (the first one is the primary; all are
        confirmed) and/or dicts ``{"email", "is_primary", "is_confirmed"}``,
        kept in the given order; ``None`` gives one primary confirmed
        ``<nickname>@example.com``, ``[]`` gives none.  ``workspaces``: slugs
        or dicts ``{"slug", "administrator", "name"}``.  ``uuid`` gets braces
        if missing; ``account_id`` defaults to an Atlassian-style ``557058:...``.
        """
        if nickname is None:
            nickname = re.sub(r"[^a-z0-9]", "", display_name.lower()) or "user"
        user = BitbucketUser(
            uuid=_braced_uuid(uuid),
            account_id=account_id or f"557058:{uuid_module.uuid4()}",
            nickname=nickname,
            display_name=display_name,
            emails=self._make_emails(
                [f"{nickname}@example.com"] if emails is None else list(emails)
            ),
            workspaces=[self._membership(w) for w in workspaces],
            created_on=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        )
        return self._register_user(user)

    @staticmethod
    def _make_emails(items: list[str | Mapping[str, Any]]) -> list[BitbucketEmail]:
        explicit_primary = any(
            isinstance(item, Mapping) and item.get("is_primary") for item in items
        )
        emails = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                emails.append(BitbucketEmail(item, is_primary=index == 0 and not explicit_primary))
            else:
                emails.append(
                    BitbucketEmail(
                        str(item["email"]),
                        is_primary=bool(item.get("is_primary", False)),
                        is_confirmed=bool(item.get("is_confirmed", True)),
                    )
                )
        if sum(e.is_primary for e in emails) > 1:
            raise ValueError("a Bitbucket user has at most one primary email")
        return emails

    def _membership(self, item: str | Mapping[str, Any]) -> WorkspaceMembership:
        if isinstance(item, str):
            item = {"slug": item}
        slug = str(item["slug"])
        with self._lock:
            workspace = self.workspaces.get(slug)
            if workspace is None:
                workspace = BitbucketWorkspace(
                    slug=slug,
                    uuid=_braced_uuid(item.get("uuid")),
                    name=str(item.get("name") or slug),
                )
                self.workspaces[slug] = workspace
        return WorkspaceMembership(workspace, bool(item.get("administrator", False)))

    # ------------------------------------------------------------------ API

    def error_body(self, status: int, message: str, **detail: Any) -> Any:
        """Bitbucket's envelope: ``{"type": "error", "error": {"message": ...}}``."""
        error: dict[str, Any] = {"message": message}
        if detail:
            error["detail"] = detail
        return {"type": "error", "error": error}

    def _require_get(self, request: webob.Request) -> None:
        if request.method not in ("GET", "HEAD"):
            response = self.api_error(405, "Method not allowed.")
            response.headers["Allow"] = "GET"
            raise Abort(response)

    def _site(self, request: webob.Request) -> str:
        return request.host_url

    def user_json(self, user: BitbucketUser, request: webob.Request) -> dict[str, Any]:
        """The ``/2.0/user`` representation of ``user``."""
        site = self._site(request)
        quoted = quote(user.uuid, safe="")
        return {
            "type": "user",
            "uuid": user.uuid,
            "account_id": user.account_id,
            "nickname": user.nickname,
            "display_name": user.display_name,
            "account_status": user.account_status,
            "created_on": user.created_on,
            "has_2fa_enabled": None,
            "is_staff": False,
            "location": None,
            "links": {
                "avatar": {"href": f"{site}/account/{quote(user.account_id)}/avatar"},
                "html": {"href": f"{site}/{quoted}/"},
                "self": {"href": f"{site}{self.api_prefix}/users/{quoted}"},
            },
        }

    def handle_user(self, request: webob.Request) -> webob.Response:
        """``GET /2.0/user`` (scope ``account``)."""
        self._require_get(request)
        token = self.require_token(request, scopes=("account",))
        return self.json_response(self.user_json(self.token_user(token), request))

    def handle_emails(self, request: webob.Request) -> webob.Response:
        """``GET /2.0/user/emails`` (scope ``email``), paginated."""
        self._require_get(request)
        token = self.require_token(request, scopes=("email",))
        user: BitbucketUser = self.token_user(token)
        site = self._site(request)
        values = [
            {
                "email": e.email,
                "is_primary": e.is_primary,
                "is_confirmed": e.is_confirmed,
                "type": "email",
                "links": {
                    "self": {
                        "href": f"{site}{self.api_prefix}/user/emails/{quote(e.email, safe='@')}"
                    }
                },
            }
            for e in user.emails
        ]
        return self.paginate(request, values)

    def reset(self) -> None:
        """Also make both membership endpoints answer again."""
        super().reset()
        self.membership_endpoints = set(self.all_membership_endpoints)

    def _membership_endpoint(self, request: webob.Request, name: str) -> BitbucketUser:
        if name not in self.membership_endpoints:
            raise Abort(self.api_error(404, f"Resource not found: {request.path_info}"))
        self._require_get(request)
        token = self.require_token(request, scopes=("account",))
        return self.token_user(token)

    def handle_permissions_workspaces(self, request: webob.Request) -> webob.Response:
        """``GET /2.0/user/permissions/workspaces`` (scope ``account``), paginated."""
        user = self._membership_endpoint(request, "permissions_workspaces")
        api = self._site(request) + self.api_prefix
        values = [
            {
                "type": "workspace_membership",
                "permission": "owner" if m.administrator else "member",
                "last_accessed": None,
                "added_on": "2024-01-01T00:00:00.000000+00:00",
                "user": {"type": "user", "uuid": user.uuid, "account_id": user.account_id,
                         "nickname": user.nickname, "display_name": user.display_name},
                "workspace": self._workspace_json(request, m.workspace),
                "links": {"self": {"href": f"{api}/workspaces/{m.workspace.slug}/members/"
                                           f"{quote(user.uuid)}"}},
            }
            for m in user.workspaces
        ]
        return self.paginate(request, values)

    def _workspace_json(self, request: webob.Request, workspace: BitbucketWorkspace
                        ) -> dict[str, Any]:
        site = self._site(request)
        return {
            "type": "workspace",
            "slug": workspace.slug,
            "uuid": workspace.uuid,
            "name": workspace.name,
            "links": {
                "avatar": {"href": f"{site}/workspaces/{workspace.slug}/avatar/"},
                "html": {"href": f"{site}/{workspace.slug}/"},
                "self": {"href": f"{site}{self.api_prefix}/workspaces/{workspace.slug}"},
            },
        }

    def handle_workspaces(self, request: webob.Request) -> webob.Response:
        """``GET /2.0/user/workspaces`` (scope ``account``), paginated."""
        user = self._membership_endpoint(request, "workspaces")
        api = self._site(request) + self.api_prefix
        values = [
            {
                "type": "workspace_access",
                "administrator": m.administrator,
                "workspace": self._workspace_json(request, m.workspace),
                "links": {"self": {"href": f"{api}/user/workspaces/{m.workspace.slug}"}},
            }
            for m in user.workspaces
        ]
        return self.paginate(request, values)

    def paginate(self, request: webob.Request, values: list[Any]) -> webob.Response:
        """A Bitbucket page of ``values`` per the ``pagelen`` and ``page`` query params.

        ``next`` (and ``previous``) are absolute URLs that keep the other query
        parameters, ``pagelen`` included; ``next`` appears only when more
        values follow.
        """
        pagelen = self._int_param(request, "pagelen", self.default_pagelen)
        page = self._int_param(request, "page", 1)
        pagelen = min(pagelen, self.max_pagelen)
        start = (page - 1) * pagelen
        body: dict[str, Any] = {
            "pagelen": pagelen,
            "page": page,
            "size": len(values),
            "values": values[start : start + pagelen],
        }
        base = request.host_url + request.path_info
        kept = [(k, v) for k, v in request.GET.items() if k != "page"]
        if start + pagelen < len(values):
            body["next"] = f"{base}?{urlencode([*kept, ('page', str(page + 1))])}"
        if page > 1:
            body["previous"] = f"{base}?{urlencode([*kept, ('page', str(page - 1))])}"
        return self.json_response(body)

    def _int_param(self, request: webob.Request, name: str, default: int) -> int:
        raw = request.GET.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise Abort(self.api_error(400, f"Invalid {name}: {raw!r}"))
        return value
