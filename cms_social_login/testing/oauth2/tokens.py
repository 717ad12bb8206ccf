"""The token endpoint: client authentication, the three grants, issuing and revoking.

Facts followed (and their sources):

- POST only, ``application/x-www-form-urlencoded`` only (RFC 6749 §3.2).
- Clients authenticate with HTTP Basic or ``client_id``/``client_secret`` in
  the form (RFC 6749 §2.3.1); a failure is 401 ``unauthorized_client`` with
  ``WWW-Authenticate: Basic`` (Bitbucket's answer: BITBUCKET.md).
- A code works once and for ten minutes; ``redirect_uri`` must match when it
  was sent at authorize time; a reused code revokes the tokens it produced
  (RFC 6749 §4.1.2, §4.1.3, §10.5).
- PKCE: the verifier is 43-128 characters and matches the challenge
  (RFC 7636 §4.1, §4.6).
- Refresh tokens rotate: each works once (BITBUCKET.md; RFC 6749 §6, §10.4).
- Client credentials only for private consumers (BITBUCKET.md).
- Token responses carry ``Cache-Control: no-store`` (RFC 6749 §5.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote_plus

import webob

from .records import Abort, AccessToken, AuthorizationCode, Client, RefreshToken
from .state import EmulatorState


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class TokenEndpointMixin(EmulatorState):
    """Exchanges codes and refresh tokens, issues client-credentials tokens."""

    #: Path of the token endpoint (POST only).
    token_path: ClassVar[str] = "/oauth/token"
    #: Key of the scopes in the token response ("scopes" or "scope").
    scope_field: str = "scopes"
    #: Lifetime of access tokens, seconds (also ``expires_in``).
    token_ttl: int = 7200
    #: Lifetime of authorization codes, seconds.
    code_ttl: int = 600
    #: Separator of the scopes in the token response.
    scope_separator: ClassVar[str] = " "
    #: Whether a reused code revokes the tokens it produced (RFC 6749 §4.1.2).
    revoke_on_code_reuse: bool = True

    def issue_token(
        self, client_id: str, user: Any | None = None, scopes: str | None = None
    ) -> AccessToken:
        """Issue an access token directly (bypassing the flow), for API tests."""
        with self._lock:
            client = self.clients[client_id]
            user_id = None if user is None else self.user_id(self.get_user(user))
            return self._issue(client, user_id, client.scopes if scopes is None else scopes)

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
