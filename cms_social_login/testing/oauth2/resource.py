"""The resource server: bearer tokens and scopes on the provider's API endpoints.

Facts followed (and their sources):

- The access token is accepted only in ``Authorization: Bearer``, never as an
  ``access_token`` query parameter (Bitbucket: BITBUCKET.md; RFC 6750 §2.3
  makes the query form optional).
- An unknown, revoked or expired token is 401; a token lacking a required
  scope is 403 (RFC 6750 §3.1).
- A scope may imply others; each provider's emulator sets ``implied_scopes``
  and names its source there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import webob

from .records import Abort, AccessToken
from .state import EmulatorState


class ResourceServerMixin(EmulatorState):
    """Checks the bearer token of an API request; subclasses add ``handle_<name>``."""

    #: Where the API lives below :attr:`base_url` (Bitbucket: ``/2.0``).
    api_prefix: ClassVar[str] = ""
    #: Extra ``path -> endpoint name`` routes; ``handle_<name>`` serves each one.
    api_routes: ClassVar[dict[str, str]] = {}
    #: Scopes that imply others, e.g. ``{"account:write": ("account",)}``.
    implied_scopes: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Bearer errors for API endpoints.
    unauthorized_message: ClassVar[str] = "Unauthorized"
    expired_token_message: ClassVar[str] = "Access token expired."
    query_token_message: ClassVar[str] = (
        "Access tokens are only accepted in the Authorization header."
    )
    user_token_required_message: ClassVar[str] = "This endpoint requires a user access token."
    insufficient_scope_message: ClassVar[str] = "Insufficient scope."

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
