"""A local OAuth 2.0 authorization server and resource server for tests.

:class:`OAuth2Emulator` is a small WSGI application (built on webob) that plays
the part of an OAuth 2.0 provider: it shows a consent page, issues
authorization codes, exchanges them for tokens at the token endpoint, rotates
refresh tokens and protects API endpoints with bearer tokens.  It is meant to
be subclassed once per provider (Bitbucket, GitHub, GitLab, OpenID Connect...):
a subclass sets the endpoint paths, the shape of its users and of its API
error bodies, and adds API handlers.

It can be used in-process as a WSGI app (``webtest.TestApp(emulator)``) or
served on an ephemeral localhost port by waitress (:meth:`OAuth2Emulator.start`)
so that ``requests`` and a real browser can reach it.  Tests can inject
failures (:meth:`OAuth2Emulator.fail`), read the request log
(:attr:`OAuth2Emulator.log`) and drive the provider side of the flow like a
user's browser would (:meth:`OAuth2Emulator.approve`,
:meth:`OAuth2Emulator.deny`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import quote, unquote, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

import webob

__all__ = [
    "Abort",
    "AccessToken",
    "AuthorizationCode",
    "Client",
    "Failure",
    "LoggedRequest",
    "OAuth2Emulator",
    "RefreshToken",
]


# --------------------------------------------------------------------------- records


@dataclass
class Client:
    """A registered OAuth client (a "consumer" in Bitbucket's words)."""

    client_id: str
    client_secret: str
    callback_url: str | None = None
    private: bool = True
    scopes: str = ""
    name: str = ""


@dataclass
class AuthorizationCode:
    """An authorization code issued by the consent page."""

    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    scope: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    """An access token; ``user_id`` is ``None`` for client-credentials tokens."""

    token: str
    client_id: str
    user_id: str | None
    scopes: str
    expires_at: float
    refresh_token: str | None = None
    code: str | None = None
    revoked: bool = False


@dataclass
class RefreshToken:
    """A refresh token; it works once (rotation)."""

    token: str
    client_id: str
    user_id: str | None
    scopes: str
    code: str | None = None
    used: bool = False


@dataclass
class Failure:
    """A failure armed by :meth:`OAuth2Emulator.fail`."""

    status: int | None
    body: bytes | str | dict | list | None
    content_type: str
    delay: float
    times: int


@dataclass(frozen=True)
class LoggedRequest:
    """One request received by the emulator (see :attr:`OAuth2Emulator.log`)."""

    endpoint: str | None
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


class Abort(Exception):
    """Raised inside a handler to answer with ``response`` straight away."""

    def __init__(self, response: webob.Response) -> None:
        super().__init__(response.status)
        self.response = response


# --------------------------------------------------------------------------- helpers


def _add_query(url: str, params: Iterable[tuple[str, str | None]]) -> str:
    """Append ``params`` (skipping ``None`` values) to ``url``'s query string."""
    parts = urlsplit(url)
    extra = urlencode([(k, v) for k, v in params if v is not None])
    query = f"{parts.query}&{extra}" if parts.query and extra else (parts.query or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class _FormParser(HTMLParser):
    """Collects the first form's action, method and named inputs, as a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and not self._in_form:
            self._in_form = True
            self.action = a.get("action", "")
            self.method = a.get("method", "get").lower()
        elif tag == "input" and self._in_form and a.get("name"):
            if a.get("type", "text").lower() in ("submit", "button", "image", "reset"):
                return
            if a.get("type", "").lower() in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


# --------------------------------------------------------------------------- emulator


class OAuth2Emulator:
    """A generic OAuth 2.0 authorization server + resource server, as a WSGI app.

    Subclasses customise it through class attributes (paths, TTLs, names) and
    hooks (:meth:`make_user`, :meth:`error_body`, :meth:`token_response`...),
    and add API endpoints by listing ``path -> endpoint name`` pairs in
    :attr:`api_routes` and defining ``handle_<endpoint name>(request)``.
    """

    #: Shown in page titles.
    provider_name: ClassVar[str] = "OAuth 2.0 provider"
    #: Path of the authorization (consent) endpoint, GET shows and POST answers.
    authorize_path: ClassVar[str] = "/oauth/authorize"
    #: Path of the token endpoint (POST only).
    token_path: ClassVar[str] = "/oauth/token"
    #: Where the API lives below :attr:`base_url` (Bitbucket: ``/2.0``).
    api_prefix: ClassVar[str] = ""
    #: Extra ``path -> endpoint name`` routes; ``handle_<name>`` serves each one.
    api_routes: ClassVar[dict[str, str]] = {}
    #: Scopes a client gets when :meth:`add_client` is given none.
    default_scopes: ClassVar[str] = ""
    #: Scopes that imply others, e.g. ``{"account:write": ("account",)}``.
    implied_scopes: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Key of the scopes in the token response ("scopes" or "scope").
    scope_field: str = "scopes"
    #: Lifetime of access tokens, seconds (also ``expires_in``).
    token_ttl: int = 7200
    #: Lifetime of authorization codes, seconds.
    code_ttl: int = 600
    #: Whether PKCE challenges are honoured (``False``: silently ignored).
    pkce_supported: bool = True
    #: Whether an authorization request without a PKCE challenge is refused.
    pkce_required: bool = False
    #: The ``code_challenge_method`` values accepted (RFC 7636 defines both).
    pkce_methods: ClassVar[tuple[str, ...]] = ("S256", "plain")
    #: Whether scopes are requested at authorize time (``scope``; the token grants them,
    #: refusing any the client may not have) rather than set on the client.
    scopes_requested: ClassVar[bool] = False
    #: Separator of the scopes in the token response.
    scope_separator: ClassVar[str] = " "
    #: Whether a reused code revokes the tokens it produced (RFC 6749 §4.1.2).
    revoke_on_code_reuse: bool = True
    #: Cookie naming the user "logged in at the provider" (overrides current_user).
    user_cookie: ClassVar[str] = "emulator_user"
    #: Bearer errors for API endpoints.
    unauthorized_message: ClassVar[str] = "Unauthorized"
    expired_token_message: ClassVar[str] = "Access token expired."
    query_token_message: ClassVar[str] = (
        "Access tokens are only accepted in the Authorization header."
    )
    user_token_required_message: ClassVar[str] = "This endpoint requires a user access token."
    insufficient_scope_message: ClassVar[str] = "Insufficient scope."

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.clients: dict[str, Client] = {}
        self.users: dict[str, Any] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.failures: dict[str, list[Failure]] = {}
        self.log: list[LoggedRequest] = []
        self._current_user_id: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ registry

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        callback_url: str | None = None,
        private: bool = True,
        *,
        scopes: str | None = None,
        name: str | None = None,
    ) -> Client:
        """Register (or replace) a client; ``scopes`` defaults to :attr:`default_scopes`."""
        client = Client(
            client_id=client_id,
            client_secret=client_secret,
            callback_url=callback_url,
            private=private,
            scopes=self.default_scopes if scopes is None else scopes,
            name=name or client_id,
        )
        with self._lock:
            self.clients[client_id] = client
        return client

    def make_user(self, **profile: Any) -> Any:
        """Build a user object from ``profile`` (base: a dict with an ``id``)."""
        user = dict(profile)
        user.setdefault("id", str(next(self._ids)))
        user["id"] = str(user["id"])
        return user

    def add_user(self, **profile: Any) -> Any:
        """Create a user with :meth:`make_user`, register it and return it."""
        return self._register_user(self.make_user(**profile))

    def _register_user(self, user: Any) -> Any:
        with self._lock:
            self.users[self.user_id(user)] = user
        return user

    def user_id(self, user: Any) -> str:
        """The registry key of ``user`` (``user["id"]`` or ``user.id``)."""
        return str(user["id"] if isinstance(user, Mapping) else user.id)

    def user_display_name(self, user: Any) -> str:
        """The name shown on the consent page."""
        if isinstance(user, Mapping):
            return str(user.get("display_name") or user.get("name") or user["id"])
        return str(getattr(user, "display_name", None) or self.user_id(user))

    def get_user(self, user_or_id: Any) -> Any:
        """Return the registered user for a user object or id (KeyError if unknown)."""
        key = user_or_id if isinstance(user_or_id, str) else self.user_id(user_or_id)
        with self._lock:
            return self.users[key]

    @property
    def current_user(self) -> Any | None:
        """The user logged in at the provider: the one set, else the first added."""
        with self._lock:
            if self._current_user_id in self.users:
                return self.users[self._current_user_id]
            return next(iter(self.users.values()), None)

    @current_user.setter
    def current_user(self, user: Any | None) -> None:
        with self._lock:
            if user is None:
                self._current_user_id = None
            else:
                self._current_user_id = self.user_id(self.get_user(user))

    # ------------------------------------------------------------------ test controls

    def fail(
        self,
        endpoint: str,
        status: int | None = 500,
        body: bytes | str | dict | list | None = None,
        content_type: str = "application/json",
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests to ``endpoint`` fail.

        ``endpoint`` is an endpoint name ("authorize", "token" or a key of
        :attr:`api_routes`' values).  Each such request sleeps ``delay``
        seconds, then answers ``status`` with ``body`` (bytes/str sent as is,
        dict/list as JSON, ``None``: the provider's error envelope).  With
        ``status=None`` the request is only delayed, then served normally.
        """
        if endpoint not in set(self.routes().values()):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        with self._lock:
            self.failures.setdefault(endpoint, []).append(
                Failure(status, body, content_type, delay, times)
            )

    def reset(self) -> None:
        """Forget failures, codes, tokens and the log; keep clients, users, current_user."""
        with self._lock:
            self.failures.clear()
            self.codes.clear()
            self.tokens.clear()
            self.refresh_tokens.clear()
            self.log.clear()

    def expire_tokens(self, *tokens: str) -> None:
        """Make the given access tokens (all when none given) expired."""
        with self._lock:
            past = self._now() - 1
            for token in tokens or list(self.tokens):
                self.tokens[token].expires_at = past

    def expire_codes(self) -> None:
        """Make every outstanding authorization code expired."""
        with self._lock:
            for code in self.codes.values():
                code.issued_at -= self.code_ttl + 1

    def requests_to(self, endpoint: str) -> list[LoggedRequest]:
        """The logged requests that reached ``endpoint``."""
        with self._lock:
            return [r for r in self.log if r.endpoint == endpoint]

    def issue_token(
        self, client_id: str, user: Any | None = None, scopes: str | None = None
    ) -> AccessToken:
        """Issue an access token directly (bypassing the flow), for API tests."""
        with self._lock:
            client = self.clients[client_id]
            user_id = None if user is None else self.user_id(self.get_user(user))
            return self._issue(client, user_id, client.scopes if scopes is None else scopes)

    # ------------------------------------------------------------------ WSGI

    def routes(self) -> dict[str, str]:
        """The ``path -> endpoint name`` dispatch table."""
        return {self.authorize_path: "authorize", self.token_path: "token", **self.api_routes}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = webob.Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    @property
    def wsgi_app(self) -> OAuth2Emulator:
        """The WSGI application (the emulator itself)."""
        return self

    def handle(self, request: webob.Request) -> webob.Response:
        """Log, apply armed failures, and dispatch ``request`` to its handler."""
        path = request.path_info
        if len(path) > 1:
            path = path.rstrip("/")
        endpoint = self.routes().get(path)
        self._log(request, endpoint)
        if endpoint is None:
            return self.api_error(404, f"Resource not found: {request.path_info}")
        failure = self._take_failure(endpoint)
        if failure is not None:
            if failure.delay:
                self._stopping.wait(failure.delay)
            if failure.status is not None:
                return self._failure_response(failure)
        try:
            return getattr(self, f"handle_{endpoint}")(request)
        except Abort as abort:
            return abort.response

    def _log(self, request: webob.Request, endpoint: str | None) -> None:
        body = request.body
        form: dict[str, str] = {}
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = {k: v for k, v in request.POST.items() if isinstance(v, str)}
        record = LoggedRequest(
            endpoint=endpoint,
            method=request.method,
            path=request.path_info,
            query=dict(request.GET.items()),
            form=form,
            headers=dict(request.headers.items()),
            body=body,
        )
        with self._lock:
            self.log.append(record)

    def _take_failure(self, endpoint: str) -> Failure | None:
        with self._lock:
            queue = self.failures.get(endpoint)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _failure_response(self, failure: Failure) -> webob.Response:
        body = failure.body
        if body is None:
            body = self.error_body(failure.status or 500, "Injected failure")
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        response = webob.Response(status=failure.status, body=body)
        response.headers["Content-Type"] = failure.content_type
        return response

    # ------------------------------------------------------------------ responses

    def json_response(
        self, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> webob.Response:
        """A JSON response."""
        response = webob.Response(
            status=status,
            body=json.dumps(data).encode("utf-8"),
            content_type="application/json",
            charset=None,
        )
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def html_response(self, title: str, body_html: str, status: int = 200) -> webob.Response:
        """A complete HTML page; ``body_html`` must already be escaped."""
        page = (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)} | {html.escape(self.provider_name)}</title>\n"
            "</head>\n<body>\n<main>\n"
            f"{body_html}\n"
            "</main>\n</body>\n</html>\n"
        )
        return webob.Response(status=status, text=page, content_type="text/html", charset="utf-8")

    def error_page(self, status: int, title: str, message: str) -> webob.Response:
        """An HTML error page (used by the authorize endpoint)."""
        body = f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>"
        return self.html_response(title, body, status=status)

    def oauth_error(
        self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None
    ) -> webob.Response:
        """An RFC 6749 JSON error from the token endpoint."""
        return self.json_response(
            {"error_description": description, "error": error},
            status=status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})},
        )

    def error_body(self, status: int, message: str, **detail: Any) -> Any:
        """The JSON body of an API error (subclasses use their provider's envelope)."""
        body: dict[str, Any] = {"error": "error", "error_description": message}
        if status == 401:
            body["error"] = "invalid_token"
        elif status == 403:
            body["error"] = "insufficient_scope"
        if detail:
            body["detail"] = detail
        return body

    def api_error(self, status: int, message: str, **detail: Any) -> webob.Response:
        """An API error response in the provider's envelope."""
        headers = {}
        if status == 401:
            realm = self.provider_name.replace('"', "")
            headers["WWW-Authenticate"] = f'Bearer realm="{realm}", error="invalid_token"'
        return self.json_response(self.error_body(status, message, **detail), status, headers)

    # ------------------------------------------------------------------ authorize

    def handle_authorize(self, request: webob.Request) -> webob.Response:
        """GET: show the consent page; POST: answer it with a redirect."""
        if request.method == "GET":
            params = request.GET
        elif request.method == "POST":
            params = request.POST
        else:
            return self._method_not_allowed("GET, POST")
        client, redirect_uri = self._check_authorize_client(params)
        state = params.get("state")

        def back(**extra: str | None) -> webob.Response:
            items = list(extra.items()) + [("state", state)]
            return self._redirect(_add_query(redirect_uri, items))

        response_type = params.get("response_type")
        if response_type != "code":
            return back(
                error="unsupported_response_type",
                error_description=f"Unsupported response_type: {response_type!r}.",
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or None
        if self.pkce_supported and (challenge or method):
            if not challenge:
                return back(error="invalid_request", error_description="Missing code_challenge.")
            method = method or "plain"
            if method not in self.pkce_methods:
                return back(
                    error="invalid_request",
                    error_description=f"Unsupported code_challenge_method: {method!r}.",
                )
        if self.pkce_supported and self.pkce_required and not challenge:
            return back(error="invalid_request", error_description="PKCE is required.")
        if self.scopes_requested:
            allowed = self._expand_scopes(client.scopes.split())
            unknown = [s for s in (params.get("scope") or "").split() if s not in allowed]
            if client.scopes and unknown:
                return back(
                    error="invalid_scope",
                    error_description=f"The requested scope is invalid: {' '.join(unknown)}.",
                )
        user = self._browser_user(request)
        if user is None:
            return self.error_page(403, "Not logged in", "No user is logged in at the provider.")
        if request.method == "GET":
            return self.consent_page(request, client, user, params)

        decision = params.get("decision")
        if decision == "deny":
            return back(
                error="access_denied",
                error_description="The user denied access to the application.",
            )
        if decision != "grant":
            return self.error_page(400, "Invalid request", "Unknown decision.")
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            client_id=client.client_id,
            user_id=self.user_id(user),
            redirect_uri=redirect_uri,
            redirect_uri_sent=bool(params.get("redirect_uri")),
            state=state,
            scope=params.get("scope") or None,
            nonce=params.get("nonce") or None,
            code_challenge=challenge if self.pkce_supported else None,
            code_challenge_method=method if self.pkce_supported and challenge else None,
            issued_at=self._now(),
        )
        with self._lock:
            self.codes[code.code] = code
        return back(code=code.code)

    def _check_authorize_client(self, params: Mapping[str, str]) -> tuple[Client, str]:
        with self._lock:
            client = self.clients.get(params.get("client_id") or "")
        if client is None:
            raise Abort(
                self.error_page(400, "Invalid client", "Invalid client: unknown client_id.")
            )
        redirect_uri = params.get("redirect_uri") or None
        if redirect_uri:
            if not client.callback_url or not redirect_uri.startswith(client.callback_url):
                raise Abort(
                    self.error_page(
                        400,
                        "Invalid redirect_uri",
                        "Invalid redirect_uri: it does not match the client's callback URL.",
                    )
                )
            return client, redirect_uri
        if not client.callback_url:
            raise Abort(
                self.error_page(400, "No callback URL", "No callback URL is set for this client.")
            )
        return client, client.callback_url

    def _browser_user(self, request: webob.Request) -> Any | None:
        cookie = request.cookies.get(self.user_cookie)
        if cookie:
            with self._lock:
                return self.users.get(unquote(cookie))
        return self.current_user

    def consent_page(
        self, request: webob.Request, client: Client, user: Any, params: Mapping[str, str]
    ) -> webob.Response:
        """The HTML consent page: a POST form carrying the authorization request."""
        esc = html.escape
        carried = (
            "client_id",
            "response_type",
            "state",
            "redirect_uri",
            "scope",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        )
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{esc(params[name])}">'
            for name in carried
            if params.get(name) is not None
        )
        scopes = client.scopes.split()
        scope_items = "".join(f"<li>{esc(s)}</li>" for s in scopes) or "<li>(none)</li>"
        body = (
            f"<h1>Authorize {esc(client.name)}</h1>\n"
            f'<p>Logged in as <strong id="current-user">{esc(self.user_display_name(user))}'
            "</strong>.</p>\n"
            f"<p><strong>{esc(client.name)}</strong> is requesting access to your "
            f"{esc(self.provider_name)} account with these permissions:</p>\n"
            f'<ul id="scopes">{scope_items}</ul>\n'
            f'<form method="post" action="{esc(request.path)}" id="consent-form">\n'
            f"{hidden}\n"
            '<button type="submit" name="decision" value="grant">Grant access</button>\n'
            '<button type="submit" name="decision" value="deny">Cancel</button>\n'
            "</form>"
        )
        return self.html_response(f"Authorize {client.name}", body)

    # ------------------------------------------------------------------ token

    def handle_token(self, request: webob.Request) -> webob.Response:
        """Token endpoint: authorization_code, refresh_token, client_credentials."""
        if request.method != "POST":
            return self.oauth_error(
                405, "invalid_request", "The token endpoint only accepts POST.", {"Allow": "POST"}
            )
        if request.content_type != "application/x-www-form-urlencoded":
            return self.oauth_error(
                400,
                "invalid_request",
                "The request body must be application/x-www-form-urlencoded.",
            )
        form = request.POST
        client = self._authenticate_client(request)
        grant_type = form.get("grant_type")
        if not grant_type:
            return self.oauth_error(400, "invalid_request", "Missing grant_type parameter.")
        if grant_type == "authorization_code":
            return self._grant_authorization_code(client, form)
        if grant_type == "refresh_token":
            return self._grant_refresh_token(client, form)
        if grant_type == "client_credentials":
            return self._grant_client_credentials(client)
        return self.oauth_error(
            400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}"
        )

    def _authenticate_client(self, request: webob.Request) -> Client:
        client_id = client_secret = None
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            if ":" in decoded:
                client_id, _, client_secret = decoded.partition(":")
        else:
            client_id = request.POST.get("client_id")
            client_secret = request.POST.get("client_secret")
        with self._lock:
            client = self.clients.get(client_id or "")
            if client is None and client_id:
                client = self.clients.get(unquote_plus(client_id))
        if (
            client is None
            or client_secret is None
            or not (
                _same(client_secret, client.client_secret)
                or _same(unquote_plus(client_secret), client.client_secret)
            )
        ):
            raise Abort(
                self.oauth_error(
                    401,
                    "unauthorized_client",
                    "Requests must be authenticated using OAuth client credentials",
                    headers={"WWW-Authenticate": 'Basic realm="OAuth"'},
                )
            )
        return client

    def _grant_authorization_code(self, client: Client, form: Mapping[str, str]) -> webob.Response:
        value = form.get("code")
        if not value:
            return self.oauth_error(400, "invalid_request", "Missing code parameter.")
        with self._lock:
            code = self.codes.get(value)
            if code is None:
                return self.oauth_error(400, "invalid_grant", "Invalid authorization code.")
            if code.used:
                if self.revoke_on_code_reuse:
                    self._revoke_from_code(code)
                return self.oauth_error(
                    400, "invalid_grant", "The authorization code has already been used."
                )
            if code.client_id != client.client_id:
                return self.oauth_error(
                    400, "invalid_grant", "The authorization code was issued to another client."
                )
            # A code is spent by any exchange attempt that names the right client.
            code.used = True
            if self._now() > code.issued_at + self.code_ttl:
                return self.oauth_error(400, "invalid_grant", "The authorization code expired.")
            redirect_uri = form.get("redirect_uri")
            if code.redirect_uri_sent or redirect_uri:
                if redirect_uri != code.redirect_uri:
                    return self.oauth_error(
                        400, "invalid_grant", "redirect_uri does not match the authorization."
                    )
            if code.code_challenge:
                verifier = form.get("code_verifier") or ""
                if not 43 <= len(verifier) <= 128:
                    return self.oauth_error(
                        400, "invalid_grant", "Missing or malformed code_verifier."
                    )
                expected = code.code_challenge
                actual = _s256(verifier) if code.code_challenge_method == "S256" else verifier
                if not _same(actual, expected):
                    return self.oauth_error(400, "invalid_grant", "PKCE verification failed.")
            user = self.users.get(code.user_id)
            if user is None:
                return self.oauth_error(400, "invalid_grant", "The user no longer exists.")
            token = self._issue(client, code.user_id, self.granted_scopes(client, code), code=code)
            return self._token_json(token, code)

    def granted_scopes(self, client: Client, code: AuthorizationCode) -> str:
        """The scopes a code's token gets: the requested ones with :attr:`scopes_requested`
        (the client's when none were requested), else the client's."""
        if self.scopes_requested and code.scope:
            return " ".join(code.scope.split())
        return client.scopes

    def _grant_refresh_token(self, client: Client, form: Mapping[str, str]) -> webob.Response:
        value = form.get("refresh_token")
        if not value:
            return self.oauth_error(400, "invalid_request", "Missing refresh_token parameter.")
        with self._lock:
            old = self.refresh_tokens.get(value)
            if old is None or old.used or old.client_id != client.client_id:
                return self.oauth_error(400, "invalid_grant", "Invalid refresh_token.")
            old.used = True
            code = self.codes.get(old.code) if old.code else None
            token = self._issue(client, old.user_id, old.scopes, code=code)
            return self._token_json(token, None)

    def _grant_client_credentials(self, client: Client) -> webob.Response:
        if not client.private:
            return self.oauth_error(
                400,
                "unauthorized_client",
                "The client credentials grant is only available to private consumers.",
            )
        with self._lock:
            token = self._issue(client, None, client.scopes)
            return self._token_json(token, None)

    def _issue(
        self,
        client: Client,
        user_id: str | None,
        scopes: str,
        code: AuthorizationCode | None = None,
    ) -> AccessToken:
        refresh = RefreshToken(
            token=secrets.token_urlsafe(24),
            client_id=client.client_id,
            user_id=user_id,
            scopes=scopes,
            code=code.code if code else None,
        )
        token = AccessToken(
            token=secrets.token_urlsafe(48),
            client_id=client.client_id,
            user_id=user_id,
            scopes=scopes,
            expires_at=self._now() + self.token_ttl,
            refresh_token=refresh.token,
            code=code.code if code else None,
        )
        with self._lock:
            self.refresh_tokens[refresh.token] = refresh
            self.tokens[token.token] = token
            if code is not None:
                code.access_tokens.append(token.token)
                code.refresh_tokens.append(refresh.token)
        return token

    def _revoke_from_code(self, code: AuthorizationCode) -> None:
        for value in code.access_tokens:
            if value in self.tokens:
                self.tokens[value].revoked = True
        for value in code.refresh_tokens:
            if value in self.refresh_tokens:
                self.refresh_tokens[value].used = True

    def _token_json(self, token: AccessToken, code: AuthorizationCode | None) -> webob.Response:
        return self.json_response(
            self.token_response(token, code),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def token_response(self, token: AccessToken, code: AuthorizationCode | None) -> dict:
        """The JSON body of a successful token response (OIDC adds ``id_token`` here)."""
        return {
            "access_token": token.token,
            self.scope_field: self.scope_separator.join(token.scopes.split()),
            "expires_in": self.token_ttl,
            "refresh_token": token.refresh_token,
            "token_type": "bearer",
        }

    # ------------------------------------------------------------------ resource server

    def require_token(
        self, request: webob.Request, *, user: bool = True, scopes: Iterable[str] = ()
    ) -> AccessToken:
        """Return the request's valid bearer token, or raise :class:`Abort` with a 401/403.

        The token is taken only from ``Authorization: Bearer``; an
        ``access_token`` query parameter is never accepted.  With ``user=True``
        a client-credentials token (no user) is refused.
        """
        authorization = request.headers.get("Authorization", "")
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            if "access_token" in request.GET:
                raise Abort(self.api_error(401, self.query_token_message))
            raise Abort(self.api_error(401, self.unauthorized_message))
        with self._lock:
            token = self.tokens.get(value)
        if token is None or token.revoked:
            raise Abort(self.api_error(401, self.unauthorized_message))
        if self._now() >= token.expires_at:
            raise Abort(self.api_error(401, self.expired_token_message))
        if user and (token.user_id is None or token.user_id not in self.users):
            raise Abort(self.api_error(401, self.user_token_required_message))
        required = list(scopes)
        granted = self._expand_scopes(token.scopes.split())
        if any(scope not in granted for scope in required):
            raise Abort(self.insufficient_scope(token.scopes.split(), required))
        return token

    def _expand_scopes(self, scopes: Iterable[str]) -> set[str]:
        expanded: set[str] = set()
        pending = list(scopes)
        while pending:
            scope = pending.pop()
            if scope not in expanded:
                expanded.add(scope)
                pending.extend(self.implied_scopes.get(scope, ()))
        return expanded

    def insufficient_scope(self, granted: list[str], required: list[str]) -> webob.Response:
        """The 403 answer for a token lacking a required scope."""
        return self.api_error(
            403, self.insufficient_scope_message, granted=granted, required=required
        )

    def token_user(self, token: AccessToken) -> Any:
        """The user a (user) token was issued for."""
        with self._lock:
            return self.users[token.user_id]

    # ------------------------------------------------------------------ small helpers

    def _now(self) -> float:
        return time.time()

    def _redirect(self, location: str) -> webob.Response:
        response = webob.Response(status=302)
        response.headers["Location"] = location
        response.headers["Cache-Control"] = "no-store"
        return response

    def _method_not_allowed(self, allow: str) -> webob.Response:
        response = self.api_error(405, "Method not allowed.")
        response.headers["Allow"] = allow
        return response

    # ------------------------------------------------------------------ serving

    def start(self, port: int = 0) -> OAuth2Emulator:
        """Serve the app on 127.0.0.1 (``port``, default an ephemeral one) in a daemon
        thread."""
        import waitress  # a test dependency; imported lazily

        if self._thread is not None:
            return self
        self._stopping.clear()
        server = waitress.create_server(self, host="127.0.0.1", port=port, threads=8)
        self._server = server

        def serve() -> None:
            from waitress import wasyncore

            try:
                while not self._stopping.is_set():
                    wasyncore.loop(timeout=0.5, map=server._map, count=1)
            finally:
                server.task_dispatcher.shutdown(timeout=2)
                wasyncore.close_all(server._map)

        self._thread = threading.Thread(
            target=serve, name=f"{type(self).__name__}-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (pending delayed responses are cut short)."""
        if self._thread is None:
            return
        self._stopping.set()
        try:
            self._server.pull_trigger()
        except OSError:
            pass
        self._thread.join(timeout=10)
        self._thread = None
        self._server = None

    @property
    def port(self) -> int:
        """The port served on (RuntimeError when not started)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start()")
        return int(self._server.effective_port)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_url(self) -> str:
        """The authorize endpoint's absolute URL, for the site's settings."""
        return self.base_url + self.authorize_path

    @property
    def token_url(self) -> str:
        """The token endpoint's absolute URL, for the site's settings."""
        return self.base_url + self.token_path

    @property
    def api_url(self) -> str:
        """Where the API lives (``base_url`` + :attr:`api_prefix`), for the site's settings."""
        return self.base_url + self.api_prefix

    def __enter__(self) -> OAuth2Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ browser helpers

    def approve(self, authorize_url: str, user: Any | None = None) -> str:
        """Act as the user's browser: open the consent page, grant, return the redirect.

        ``user`` (object or id) plays the logged-in user for this flow only;
        by default it is :attr:`current_user`.  Returns the ``Location`` sent
        back to the site (``...?code=...&state=...``, or an error redirect).
        """
        return self._consent(authorize_url, "grant", user)

    def deny(self, authorize_url: str, user: Any | None = None) -> str:
        """Like :meth:`approve` but presses "Cancel"; returns the error redirect."""
        return self._consent(authorize_url, "deny", user)

    def _consent(self, authorize_url: str, decision: str, user: Any | None) -> str:
        import requests  # a test dependency; imported lazily

        headers = {}
        if user is not None:
            user_id = self.user_id(self.get_user(user))
            headers["Cookie"] = f"{self.user_cookie}={quote(user_id, safe='')}"
        page = requests.get(authorize_url, headers=headers, allow_redirects=False, timeout=10)
        if page.status_code in (301, 302, 303, 307, 308):
            return page.headers["Location"]
        if page.status_code != 200:
            raise AssertionError(f"consent page failed: HTTP {page.status_code}: {page.text[:500]}")
        parser = _FormParser()
        parser.feed(page.text)
        if parser.action is None:
            raise AssertionError("no form on the consent page")
        fields = [*parser.fields, ("decision", decision)]
        answer = requests.post(
            urljoin(page.url, parser.action),
            data=fields,
            headers=headers,
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code not in (301, 302, 303, 307, 308):
            raise AssertionError(
                f"consent answer failed: HTTP {answer.status_code}: {answer.text[:500]}"
            )
        return answer.headers["Location"]
