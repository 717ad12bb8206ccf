"""A local emulator of GitHub's OAuth App endpoints and the REST API parts login needs.

github.com's ``/login/oauth/authorize`` and ``/login/oauth/access_token`` and
api.github.com's ``/user``, ``/user/emails`` and ``/user/orgs`` are served from one port: point the
settings ``cms_social_login.github.authorize_url`` / ``token_url`` / ``api_url`` at
:attr:`GitHubEmulator.authorize_url`, :attr:`~GitHubEmulator.token_url` and
:attr:`~GitHubEmulator.api_url`.

What it reproduces of GitHub (from GitHub's OAuth App and REST documentation; the exact
error texts are not verified against github.com):

- scopes are requested at authorize time (``read:user user:email``) and echoed
  comma-separated in the token answer's ``scope``;
- the token endpoint answers JSON only to ``Accept: application/json`` (else a
  form-encoded body) and reports ``bad_verification_code``,
  ``incorrect_client_credentials`` and ``redirect_uri_mismatch`` with HTTP **200**;
- the token answer has no ``expires_in`` nor ``refresh_token`` (OAuth Apps);
- API errors are ``{"message": ..., "documentation_url": ...}``; ``/user/emails`` is a
  JSON **array** of ``{"email", "primary", "verified", "visibility"}`` (``per_page``,
  default 30, at most 100, with a ``Link`` header to the next page);
- ``/user/orgs`` is a JSON **array** of the user's organizations (``{"login", "id",
  ...}``), paginated the same way, and needs ``read:org`` (or ``write:org`` /
  ``admin:org``): without it the answer is **403**;
- OAuth Apps may request any scope: the client registered by default may request
  ``read:org`` too (:attr:`GitHubEmulator.default_scopes`);
- PKCE: since July 2025 GitHub takes ``code_challenge`` with ``code_challenge_method=S256``
  only ("plain" is not supported) and then requires the matching ``code_verifier`` at the
  token endpoint (https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication/,
  https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps);
- with :attr:`GitHubEmulator.expiring_tokens` (GitHub Apps with user-token expiration) the
  token answer adds ``expires_in`` (8 hours), ``refresh_token`` and
  ``refresh_token_expires_in`` (6 months); a refresh with a bad, expired or used refresh
  token is answered with HTTP **200** and ``{"error": "bad_refresh_token", ...}``
  (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import webob

from .oauth2 import Abort, AccessToken, AuthorizationCode, OAuth2Emulator

__all__ = ["GitHubEmail", "GitHubEmulator", "GitHubUser"]

#: The scope ``/user/orgs`` needs.
ORGS_SCOPE = "read:org"

#: GitHub's token-endpoint error codes for the generic RFC 6749 ones.
GITHUB_TOKEN_ERRORS = {
    "unauthorized_client": ("incorrect_client_credentials",
                            "The client_id and/or client_secret passed are incorrect."),
    "invalid_client": ("incorrect_client_credentials",
                       "The client_id and/or client_secret passed are incorrect."),
    "invalid_grant": ("bad_verification_code", "The code passed is incorrect or expired."),
}


@dataclass
class GitHubEmail:
    """An address in ``/user/emails``."""

    email: str
    primary: bool = False
    verified: bool = True
    visibility: str | None = None


@dataclass
class GitHubUser:
    """A GitHub account; :attr:`id` is numeric (the registry key is its string)."""

    id: int
    login: str
    name: str | None
    emails: list[GitHubEmail] = field(default_factory=list)
    #: Logins of the organizations the account is a member of, in ``/user/orgs`` order.
    orgs: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        """The name shown on the consent page."""
        return self.name or self.login


class GitHubEmulator(OAuth2Emulator):
    """GitHub: OAuth Apps (github.com) + REST API (api.github.com)."""

    provider_name: ClassVar[str] = "GitHub"
    authorize_path: ClassVar[str] = "/login/oauth/authorize"
    token_path: ClassVar[str] = "/login/oauth/access_token"
    api_prefix: ClassVar[str] = "/api"
    api_routes: ClassVar[dict[str, str]] = {"/api/user": "user", "/api/user/emails": "emails",
                                            "/api/user/orgs": "orgs"}
    default_scopes: ClassVar[str] = "read:user user:email read:org"
    implied_scopes: ClassVar[dict[str, tuple[str, ...]]] = {
        "user": ("read:user", "user:email"), "admin:org": ("write:org", "read:org"),
        "write:org": ("read:org",)}
    scopes_requested: ClassVar[bool] = True
    scope_separator: ClassVar[str] = ","
    scope_field: str = "scope"
    unauthorized_message: ClassVar[str] = "Bad credentials"
    expired_token_message: ClassVar[str] = "Bad credentials"
    user_token_required_message: ClassVar[str] = "Bad credentials"
    insufficient_scope_message: ClassVar[str] = "Not Found"
    documentation_url: ClassVar[str] = "https://docs.github.com/rest"
    pkce_methods: ClassVar[tuple[str, ...]] = ("S256",)
    #: GitHub App user tokens that expire and come with a refresh token.
    expiring_tokens: bool = False
    #: Lifetimes GitHub gives expiring user tokens and their refresh tokens, seconds.
    expiring_token_ttl: ClassVar[int] = 28800
    refresh_token_ttl: ClassVar[int] = 15897600

    def __init__(self) -> None:
        super().__init__()
        self._github_ids = itertools.count(1001)
        self._org_ids = itertools.count(9001)
        #: Organization login (lowercase) -> its numeric id, made on first use.
        self.org_ids: dict[str, int] = {}

    def add_user(  # type: ignore[override]
        self,
        login: str,
        name: str | None = None,
        emails: Iterable[str | Mapping[str, Any]] | None = None,
        id: int | None = None,
        orgs: Iterable[str] = (),
    ) -> GitHubUser:
        """Register a GitHub account and return it.

        ``emails``: plain strings (the first is the primary; all verified) and/or dicts
        ``{"email", "primary", "verified"}``; ``None`` gives one primary verified
        ``<login>@example.com``. ``orgs``: logins of the organizations it belongs to.
        """
        items = [f"{login}@example.com"] if emails is None else list(emails)
        explicit = any(isinstance(i, Mapping) and i.get("primary") for i in items)
        made = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                made.append(GitHubEmail(item, primary=index == 0 and not explicit))
            else:
                made.append(GitHubEmail(str(item["email"]), bool(item.get("primary", False)),
                                        bool(item.get("verified", True)),
                                        item.get("visibility")))
        user = GitHubUser(id=id if id is not None else next(self._github_ids), login=login,
                          name=name, emails=made, orgs=list(orgs))
        return self._register_user(user)

    def user_id(self, user: Any) -> str:
        return str(user["id"] if isinstance(user, Mapping) else user.id)

    # ------------------------------------------------------------------ token endpoint

    def oauth_error(self, status: int, error: str, description: str,
                    headers: Mapping[str, str] | None = None) -> webob.Response:
        """GitHub answers token errors with HTTP 200 and its own codes."""
        if "redirect_uri" in description:
            error, description = ("redirect_uri_mismatch",
                                  "The redirect_uri MUST match the registered callback URL "
                                  "for this application.")
        elif error in GITHUB_TOKEN_ERRORS:
            error, description = GITHUB_TOKEN_ERRORS[error]
        if status != 405:
            status = 200
        body = {"error": error, "error_description": description,
                "error_uri": "https://docs.github.com/apps/troubleshooting"}
        return self.json_response(body, status=status,
                                  headers={"Cache-Control": "no-store", **(headers or {})})

    def handle_token(self, request: webob.Request) -> webob.Response:
        """The token endpoint: JSON only when the client accepts it, else a form body."""
        response = super().handle_token(request)
        if "application/json" in request.headers.get("Accept", "") \
                or response.content_type != "application/json":
            return response
        form = {k: v for k, v in response.json.items() if v is not None}
        plain = webob.Response(status=response.status, body=urlencode(form).encode(),
                               content_type="application/x-www-form-urlencoded", charset=None)
        plain.headers["Cache-Control"] = "no-store"
        return plain

    def reset(self) -> None:
        """Also go back to OAuth App tokens (no expiry, no refresh token)."""
        super().reset()
        self.expiring_tokens = False

    def token_response(self, token: AccessToken, code: AuthorizationCode | None) -> dict:
        body: dict[str, Any] = {"access_token": token.token, "token_type": "bearer",
                                "scope": self.scope_separator.join(token.scopes.split())}
        if self.expiring_tokens:
            body.update(expires_in=self.expiring_token_ttl, refresh_token=token.refresh_token,
                        refresh_token_expires_in=self.refresh_token_ttl)
        return body

    def _grant_refresh_token(self, client: Any, form: Mapping[str, str]) -> webob.Response:
        """A refresh GitHub refuses is HTTP 200 with ``bad_refresh_token``."""
        response = super()._grant_refresh_token(client, form)
        error = response.json.get("error") if response.content_type == "application/json" \
            else None
        if error == "bad_verification_code":  # the generic invalid_grant, renamed above
            return self.oauth_error(200, "bad_refresh_token",
                                    "The refresh token passed is incorrect or expired.")
        return response

    # ------------------------------------------------------------------ API

    def error_body(self, status: int, message: str, **detail: Any) -> Any:
        """GitHub's envelope: ``{"message", "documentation_url"}``."""
        return {"message": message, "documentation_url": self.documentation_url}

    def insufficient_scope(self, granted: list[str], required: list[str]) -> webob.Response:
        """GitHub hides what a token may not see: 404 Not Found."""
        response = self.api_error(404, self.insufficient_scope_message)
        response.headers["X-OAuth-Scopes"] = ", ".join(granted)
        response.headers["X-Accepted-OAuth-Scopes"] = ", ".join(required)
        return response

    def handle_user(self, request: webob.Request) -> webob.Response:
        """``GET /user``."""
        self._require_get(request)
        token = self.require_token(request)
        user: GitHubUser = self.token_user(token)
        site = request.host_url
        public = next((e.email for e in user.emails if e.visibility == "public"), None)
        return self.json_response({
            "login": user.login,
            "id": user.id,
            "node_id": f"U_{user.id:08d}",
            "avatar_url": f"{site}/avatars/u/{user.id}",
            "html_url": f"{site}/{user.login}",
            "type": "User",
            "site_admin": False,
            "name": user.name,
            "email": public,
        }, headers={"X-OAuth-Scopes": ", ".join(token.scopes.split())})

    def handle_emails(self, request: webob.Request) -> webob.Response:
        """``GET /user/emails`` (scope ``user:email``): an array, paginated."""
        self._require_get(request)
        token = self.require_token(request, scopes=("user:email",))
        user: GitHubUser = self.token_user(token)
        values = [{"email": e.email, "primary": e.primary, "verified": e.verified,
                   "visibility": e.visibility} for e in user.emails]
        return self._paginated(request, values)

    def handle_orgs(self, request: webob.Request) -> webob.Response:
        """``GET /user/orgs`` (scope ``read:org``, else 403): an array, paginated."""
        self._require_get(request)
        token = self.require_token(request)
        granted = token.scopes.split()
        if ORGS_SCOPE not in self._expand_scopes(granted):
            response = self.api_error(403, "Resource not accessible: the token needs the "
                                           f"{ORGS_SCOPE} scope")
            response.headers["X-OAuth-Scopes"] = ", ".join(granted)
            response.headers["X-Accepted-OAuth-Scopes"] = ORGS_SCOPE
            return response
        user: GitHubUser = self.token_user(token)
        site = request.host_url
        values = []
        for login in user.orgs:
            with self._lock:
                org_id = self.org_ids.setdefault(login.lower(), next(self._org_ids))
            values.append({"login": login, "id": org_id, "node_id": f"O_{org_id:08d}",
                           "url": f"{site}{self.api_prefix}/orgs/{login}",
                           "avatar_url": f"{site}/avatars/o/{org_id}",
                           "description": None})
        return self._paginated(request, values)

    def _paginated(self, request: webob.Request, values: list[Any]) -> webob.Response:
        """One page of ``values`` (``per_page``, default 30, at most 100; ``page``), with
        GitHub's ``Link: <...>; rel="next"`` header when more follow."""
        try:
            per_page = min(max(int(request.GET.get("per_page", 30)), 1), 100)
            page = max(int(request.GET.get("page", 1)), 1)
        except ValueError:
            raise Abort(self.api_error(400, "Invalid pagination")) from None
        start = (page - 1) * per_page
        response = self.json_response(values[start:start + per_page])
        if start + per_page < len(values):
            base = request.host_url + request.path_info
            next_url = f"{base}?{urlencode({'per_page': per_page, 'page': page + 1})}"
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def _require_get(self, request: webob.Request) -> None:
        if request.method not in ("GET", "HEAD"):
            raise Abort(self._method_not_allowed("GET"))
