"""A local OpenID Connect provider: discovery, JWKS, signed ID tokens and userinfo.

It is the generic OAuth 2.0 emulator plus what OpenID Connect Core and Discovery add:

- ``<issuer>/.well-known/openid-configuration`` (the discovery document);
- ``<issuer>/jwks`` with the public half of an **RSA key generated when the emulator is
  made** (2048 bits, RS256, a ``kid``); :meth:`OIDCEmulator.rotate_key` makes a new one;
- the token answer carries an ``id_token`` signed with that key (``iss``, ``sub``,
  ``aud``, ``exp``, ``iat``, ``auth_time``, ``nonce`` of the authorization request,
  ``azp`` and the ``email``/``profile`` claims the scopes ask for);
- ``<issuer>/userinfo`` with the same claims (bearer token, scope ``openid``).

- ``<issuer>/logout``, the ``end_session_endpoint`` of RP-Initiated Logout 1.0
  (https://openid.net/specs/openid-connect-rpinitiated-1_0.html): it checks the
  ``id_token_hint`` (its own signature and ``aud`` = ``client_id``) and that
  ``post_logout_redirect_uri`` is registered for the client (§3: an OP must not redirect
  to an unregistered one), then redirects there with ``state``
  (:meth:`OIDCEmulator.add_post_logout_redirect_uri`).

With :attr:`OIDCEmulator.claims_in_id_token` off, the ID token carries only the
protocol claims and ``sub``; the scopes' claims come from userinfo only (OpenID Connect
Core §5.4: when an access token is issued they are released at the UserInfo endpoint;
panva's certified ``oidc-provider`` does so by default). :attr:`OIDCEmulator.endpoint_base`
makes discovery announce the endpoints on another origin (e.g. ``http://localhost:<port>``,
the same server under another name), for the relying party's origin check.

The issuer may have a path, like Keycloak's ``/realms/<name>``
(``OIDCEmulator(issuer_path="/realms/staff")``). To test the checks of a relying party,
:attr:`OIDCEmulator.id_token_overrides` changes claims of the next ID tokens (``None``
removes one) and :attr:`OIDCEmulator.forge_signature` signs them with a key that is not
published; :meth:`~OIDCEmulator.reset` undoes both.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import webob
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from .oauth2 import AccessToken, AuthorizationCode, OAuth2Emulator
from .oauth2.responses import add_query

__all__ = ["OIDCEmulator", "OIDCUser"]


@dataclass
class OIDCUser:
    """An account at the OpenID provider; :attr:`sub` is its stable subject."""

    sub: str
    name: str | None = None
    email: str | None = None
    email_verified: bool = True
    preferred_username: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    picture: str | None = None

    @property
    def id(self) -> str:
        """The registry key: ``sub``."""
        return self.sub

    @property
    def display_name(self) -> str:
        """The name shown on the consent page."""
        return self.name or self.preferred_username or self.sub


def _new_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256",
                                                 "kid": kid or secrets.token_hex(8)})


class OIDCEmulator(OAuth2Emulator):
    """An OpenID Connect provider (authorization code flow) on one port."""

    provider_name: ClassVar[str] = "OpenID Provider"
    authorize_path: ClassVar[str] = "/authorize"
    token_path: ClassVar[str] = "/token"
    default_scopes: ClassVar[str] = "openid email profile"
    scopes_requested: ClassVar[bool] = True
    scope_field: str = "scope"
    #: Lifetime of ID tokens, seconds.
    id_token_ttl: int = 300
    #: ``token_endpoint_auth_methods_supported`` of the discovery document.
    token_auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    #: Whether the ID token carries the email/profile claims (else: userinfo only).
    claims_in_id_token: bool = True

    def __init__(self, issuer_path: str = "") -> None:
        super().__init__()
        self.issuer_path = "/" + issuer_path.strip("/") if issuer_path.strip("/") else ""
        self.signing_key = _new_key()
        #: Keys published in the JWKS (the signing key first).
        self.published_keys: list[RSAKey] = [self.signing_key]
        self.id_token_overrides: dict[str, Any] = {}
        self.forge_signature = False
        self._subs = itertools.count(1)
        #: Where discovery says the endpoints are (None: below the issuer).
        self.endpoint_base: str | None = None
        #: Whether discovery announces the ``end_session_endpoint``.
        self.offers_end_session = True
        #: client_id -> the post-logout redirect URIs registered for it.
        self.post_logout_redirect_uris: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ URLs

    @property
    def issuer(self) -> str:
        """The issuer URL (what the editor types in the tab)."""
        return self.base_url + self.issuer_path

    @property
    def discovery_url(self) -> str:
        """The discovery document's URL."""
        return self.issuer + "/.well-known/openid-configuration"

    def routes(self) -> dict[str, str]:
        prefix = self.issuer_path
        return {
            prefix + self.authorize_path: "authorize",
            prefix + self.token_path: "token",
            prefix + "/.well-known/openid-configuration": "discovery",
            prefix + "/jwks": "jwks",
            prefix + "/userinfo": "userinfo",
            prefix + "/logout": "end_session",
        }

    def add_post_logout_redirect_uri(self, client_id: str, uri: str) -> None:
        """Register ``uri`` as a post-logout redirect URI of the client."""
        with self._lock:
            self.post_logout_redirect_uris.setdefault(client_id, set()).add(uri)

    # ------------------------------------------------------------------ users and keys

    def add_user(self, name: str | None = None, email: str | None = None,  # type: ignore[override]
                 email_verified: bool = True, sub: str | None = None,
                 preferred_username: str | None = None, **claims: Any) -> OIDCUser:
        """Register an account; ``sub`` defaults to a fresh opaque value."""
        user = OIDCUser(sub=sub or f"sub-{next(self._subs):04d}-{secrets.token_hex(6)}",
                        name=name, email=email, email_verified=email_verified,
                        preferred_username=preferred_username, **claims)
        return self._register_user(user)

    def user_id(self, user: Any) -> str:
        return str(user["id"] if isinstance(user, Mapping) else user.id)

    def rotate_key(self, keep_old: bool = False) -> RSAKey:
        """Sign with a new key (new ``kid``); publish the old one too if ``keep_old``."""
        with self._lock:
            self.signing_key = _new_key()
            self.published_keys = [self.signing_key, *(self.published_keys if keep_old else ())]
            return self.signing_key

    def reset(self) -> None:
        """Also forget ID token overrides and forged signatures."""
        super().reset()
        with self._lock:
            self.id_token_overrides = {}
            self.forge_signature = False
            self.endpoint_base = None
            self.offers_end_session = True

    # ------------------------------------------------------------------ claims and tokens

    def user_claims(self, user: OIDCUser, scopes: set[str]) -> dict[str, Any]:
        """The claims of ``user`` that ``scopes`` release."""
        claims: dict[str, Any] = {"sub": user.sub}
        if "email" in scopes and user.email:
            claims.update(email=user.email, email_verified=user.email_verified)
        if "profile" in scopes:
            for key in ("name", "preferred_username", "given_name", "family_name", "picture"):
                value = getattr(user, key)
                if value:
                    claims[key] = value
        return claims

    def id_token(self, client_id: str, user: OIDCUser, scopes: set[str],
                 nonce: str | None) -> str:
        """A signed ID token for ``user`` (with :attr:`id_token_overrides` applied)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": client_id, "azp": client_id,
            "iat": now, "exp": now + self.id_token_ttl, "auth_time": now,
            **self.user_claims(user, scopes if self.claims_in_id_token else {"openid"}),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        with self._lock:
            overrides = dict(self.id_token_overrides)
            key = self.signing_key
        if self.forge_signature:  # same kid as the real key: only the signature differs
            key = _new_key(kid=key.kid)
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])

    def token_response(self, token: AccessToken, code: AuthorizationCode | None) -> dict:
        body = {"access_token": token.token, "token_type": "Bearer",
                "expires_in": self.token_ttl, "refresh_token": token.refresh_token,
                "scope": " ".join(token.scopes.split())}
        scopes = set(token.scopes.split())
        if code is not None and "openid" in scopes:
            body["id_token"] = self.id_token(token.client_id, self.users[code.user_id],
                                             scopes, code.nonce)
        return body

    # ------------------------------------------------------------------ endpoints

    def handle_discovery(self, request: webob.Request) -> webob.Response:
        """``GET /.well-known/openid-configuration``."""
        issuer = self.issuer
        base = (self.endpoint_base + self.issuer_path) if self.endpoint_base else issuer
        document = {
            "issuer": issuer,
            "authorization_endpoint": base + self.authorize_path,
            "token_endpoint": base + self.token_path,
            "userinfo_endpoint": base + "/userinfo",
            "jwks_uri": base + "/jwks",
            "end_session_endpoint": base + "/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": list(self.token_auth_methods),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                                 "email", "email_verified", "name", "preferred_username",
                                 "given_name", "family_name", "picture"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }
        if not self.offers_end_session:
            del document["end_session_endpoint"]
        return self.json_response(document)

    def handle_jwks(self, request: webob.Request) -> webob.Response:
        """``GET /jwks``: the public keys."""
        with self._lock:
            keys = list(self.published_keys)
        return self.json_response(KeySet(keys).as_dict(private=False))

    def handle_end_session(self, request: webob.Request) -> webob.Response:
        """``GET|POST /logout``: RP-Initiated Logout 1.0. A valid ``id_token_hint`` of this
        issuer for ``client_id`` and a registered ``post_logout_redirect_uri``: redirect
        there with ``state``; else an error page (never an open redirect)."""
        params = request.GET if request.method == "GET" else request.POST
        hint = params.get("id_token_hint") or ""
        client_id = params.get("client_id") or ""
        try:
            with self._lock:
                keys = KeySet(list(self.published_keys))
            claims = jwt.decode(hint, keys, algorithms=["RS256"]).claims
        except (JoseError, ValueError, TypeError, KeyError):
            return self.error_page(400, "Invalid request", "id_token_hint is not valid.")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) \
            else [claims.get("aud")]
        if claims.get("iss") != self.issuer or client_id not in audiences:
            return self.error_page(400, "Invalid request",
                                   "id_token_hint was not issued to this client.")
        target = params.get("post_logout_redirect_uri")
        if not target:
            return self.html_response("Logged out", "<h1>You have been logged out.</h1>")
        with self._lock:
            registered = target in self.post_logout_redirect_uris.get(client_id, set())
        if not registered:
            return self.error_page(400, "Invalid request",
                                   "post_logout_redirect_uri is not registered.")
        return self._redirect(add_query(target, [("state", params.get("state"))]))

    def handle_userinfo(self, request: webob.Request) -> webob.Response:
        """``GET /userinfo`` (scope ``openid``)."""
        if request.method not in ("GET", "POST"):
            return self._method_not_allowed("GET, POST")
        token = self.require_token(request, scopes=("openid",))
        return self.json_response(self.user_claims(self.token_user(token),
                                                   set(token.scopes.split())))
