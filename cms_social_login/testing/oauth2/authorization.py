"""The authorization endpoint: client and redirect checks, PKCE, the consent page.

Facts followed (and their sources):

- Only ``response_type=code`` is served; anything else goes back to the
  client as ``unsupported_response_type`` (RFC 6749 §4.1.2.1).
- An unknown client or a redirect URI that does not match the registered one
  is shown to the user as an error page, never redirected (RFC 6749 §4.1.2.1);
  Bitbucket matches the callback URL by prefix and, without ``redirect_uri``,
  sends the user to the consumer's callback URL (BITBUCKET.md).
- PKCE: ``code_challenge`` with ``S256`` or ``plain``, ``plain`` when no
  method is sent (RFC 7636 §4.3); a provider without PKCE ignores both.
- The user's "Cancel" answers ``access_denied`` (RFC 6749 §4.1.2.1); ``state``
  goes back on every redirect (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

import webob

from .records import Abort, AuthorizationCode, Client
from .responses import add_query
from .state import EmulatorState


class AuthorizationMixin(EmulatorState):
    """GET shows the consent page, POST answers it with a redirect to the client."""

    #: Path of the authorization (consent) endpoint, GET shows and POST answers.
    authorize_path: ClassVar[str] = "/oauth/authorize"
    #: Whether PKCE challenges are honoured (``False``: silently ignored).
    pkce_supported: bool = True
    #: Whether an authorization request without a PKCE challenge is refused.
    pkce_required: bool = False
    #: The ``code_challenge_method`` values accepted (RFC 7636 defines both).
    pkce_methods: ClassVar[tuple[str, ...]] = ("S256", "plain")
    #: Whether scopes are requested at authorize time (``scope``; the token grants them,
    #: refusing any the client may not have) rather than set on the client.
    scopes_requested: ClassVar[bool] = False
    #: Cookie naming the user "logged in at the provider" (overrides current_user).
    user_cookie: ClassVar[str] = "emulator_user"

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
            return self._redirect(add_query(redirect_uri, items))

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
