"""The OAuth 2.0 client steps from Authlib, sent through our bounded HTTP client.

Authlib's :class:`~authlib.oauth2.client.OAuth2Client` builds the authorization URL
(state, PKCE S256, nonce), the token requests (authorization code, refresh, client
credentials) with client authentication (``client_secret_basic`` or
``client_secret_post``), and reads the token answers, an ``error`` in any of them
included whatever the HTTP status (GitHub answers errors with HTTP 200). Its ``session``
is :class:`BoundedSession`, which sends each request through
:class:`~cms_social_login.http.HttpClient`: the total deadline, the size cap, no
redirects, pooled connections and the address policy stay ours.

Imported only by the login steps (never by ``GET /login``), so a worker that only shows
the login page does not load Authlib.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.client import OAuth2Client

from ..http import HttpClient, HttpResponse

#: ``OAuth2Provider.client_auth`` -> Authlib's name of the client authentication method.
AUTH_METHODS = {"basic": "client_secret_basic", "post": "client_secret_post"}


class TokenEndpointError(Exception):
    """The token endpoint refused or failed: ``error`` is the RFC 6749 code it sent (after
    the provider's own codes are translated), None when it sent none; ``status`` is the
    HTTP status."""

    def __init__(self, error: str | None, status: int) -> None:
        super().__init__(f"token endpoint: {error or 'no error code'} (HTTP {status})")
        self.error = error
        self.status = status


class _StatusError(Exception):
    """An HTTP error status without a readable OAuth error (raised for Authlib)."""


class _Answer:
    """What Authlib reads of a token answer: the status and the JSON body."""

    def __init__(self, response: HttpResponse) -> None:
        self.status_code = response.status
        self._data = response.data

    def json(self) -> Any:
        if self._data is None:
            raise ValueError("no JSON body")
        return self._data

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise _StatusError(self.status_code)


class BoundedSession:
    """The ``session`` Authlib's client posts through: one :class:`HttpClient` call per
    request, the client authentication applied by Authlib's ``ClientAuth``."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self.status = 0

    def post(self, url: str, data: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None, auth: Any = None,
             **_ignored: Any) -> _Answer:
        body, sent = urlencode(list((data or {}).items())), dict(headers or {})
        if auth is not None:
            url, sent, body = auth.prepare("POST", url, sent, body)
        response = self.http.request_json("POST", url, data=body, headers=sent)
        self.status = response.status
        return _Answer(response)


def authorization_url(endpoint: str, client_id: str, *, redirect_uri: str, state: str,
                      scopes: Sequence[str], code_verifier: str | None,
                      nonce: str | None) -> str:
    """The authorize URL: ``response_type=code``, the client, the callback, the state,
    the scopes (when any), the PKCE S256 challenge of ``code_verifier`` and the nonce
    (when given)."""
    client = OAuth2Client(None, client_id=client_id, code_challenge_method="S256")
    extras = {"nonce": nonce} if nonce else {}
    url, _state = client.create_authorization_url(
        endpoint, state=state, code_verifier=code_verifier, redirect_uri=redirect_uri,
        scope=" ".join(scopes) or None, **extras)
    return url


class TokenEndpoint:
    """One client's calls to one token endpoint, through ``http``.

    ``error_codes`` translates a provider's own error codes to RFC 6749's (GitHub:
    ``bad_verification_code`` -> ``invalid_grant``).
    """

    def __init__(self, http: HttpClient, url: str, client_id: str, client_secret: str,
                 auth_method: str, error_codes: Mapping[str, str]) -> None:
        self.url = url
        self.session = BoundedSession(http)
        self.client = OAuth2Client(self.session, client_id=client_id,
                                   client_secret=client_secret,
                                   token_endpoint_auth_method=auth_method)
        self.error_codes = error_codes

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None
                      ) -> dict[str, Any]:
        """The token answer for an authorization code (RFC 6749 4.1.3, RFC 7636 4.5)."""
        return self._call(lambda: self.client.fetch_token(
            self.url, grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
            code_verifier=code_verifier))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """The token answer for a refresh token (RFC 6749 6)."""
        return self._call(lambda: self.client.refresh_token(
            self.url, refresh_token=refresh_token))

    def client_credentials(self) -> dict[str, Any]:
        """A token for the client itself (RFC 6749 4.4)."""
        return self._call(lambda: self.client.fetch_token(
            self.url, grant_type="client_credentials"))

    def _call(self, step: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
        try:
            token = step()
        except OAuth2Error as exc:
            code = exc.error if isinstance(exc.error, str) else None
            raise TokenEndpointError(self.error_codes.get(code or "", code),
                                     self.session.status) from exc
        except (_StatusError, ValueError) as exc:  # an error page, a body not an object
            raise TokenEndpointError(None, self.session.status) from exc
        if not isinstance(token.get("access_token"), str):
            raise TokenEndpointError(None, self.session.status)
        return dict(token)
