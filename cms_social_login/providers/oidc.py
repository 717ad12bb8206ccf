"""Any OpenID Connect provider (Google, Microsoft Entra ID, Keycloak, Okta, Auth0, ...).

The editor gives the **issuer** URL, the client id and secret and a button title; the
endpoints come from the issuer's discovery document
(``<issuer>/.well-known/openid-configuration``). The login is the authorization-code flow
with PKCE (S256) and a ``nonce``; the ID token that comes with the access token is checked
with joserfc: its signature against the issuer's JWKS, then ``iss``, ``aud`` (and ``azp``),
``exp``, ``iat`` and ``nonce``. The stable identity is ``sub``.

Several OpenID Connect providers can be offered side by side, each with its own tab and
callback URL: list their names in the setting ``cms_social_login.oidc.providers`` (e.g.
``google keycloak``) and give each a title with ``cms_social_login.<name>.title``. Without
that setting there is one, named ``oidc``.

Discovery documents and key sets are cached per process (bounded, one hour); an ID token
signed with a key id the cached set lacks makes the set be fetched again once (key
rotation). A failed fetch is remembered for :data:`FAILURE_TTL` seconds (bounded too), and
only one request per provider fetches at a time, so visitors starting logins against a
dead issuer cause at most one outbound attempt per period; Save fetches both afresh
(:meth:`OIDCProvider.warm`) and tells the editor in words when that fails.

The endpoints the discovery document announces (authorization, token, userinfo, JWKS,
end session) must share the issuer's origin, unless the operator lists their origins in
``cms_social_login.allowed_endpoint_origins`` (``*``: any); each must also pass the address
policy (:class:`~cms_social_login.http.UrlPolicy`).

When the editor ticks "Log out at the provider too", logging out of the site sends the
browser to the issuer's ``end_session_endpoint`` (OpenID Connect RP-Initiated Logout 1.0)
with the login's ID token as ``id_token_hint``, ``client_id``, a ``state`` and
``post_logout_redirect_uri`` back to the site's "You are logged out" page.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist

from ..http import SLOT_PATIENCE
from ..i18n import _
from ..lru import LRUCache
from ..origins import url_origin
from ..settings import PREFIX, SocialLoginSettings
from .base import Field, LoginContext, OAuth2Provider, Verification, url_field_error
from .errors import ProviderBusy, ProviderError, reason_in_words
from .profile import Email, build_profile, text

if TYPE_CHECKING:  # joserfc (and cryptography under it) is imported at the first ID token check
    from joserfc.jwk import KeySet

OIDC_ICON = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" width="20" height="20">'
    '<path fill="currentColor" d="M11 3.5v17.2l3-1.5V2zM10 7.6C5.5 8.2 2 10.9 2 14.2c0 3.4 3.7'
    " 6.2 8.4 6.7v-2c-3.4-.5-5.9-2.4-5.9-4.7 0-2.2 2.2-4 5.5-4.6zm5 0v2c1.3.2 2.5.6 3.4 1.2L16.8"
    ' 12 22 13l-.4-4.6-1.7 1c-1.4-.9-3-1.5-4.9-1.8z"/></svg>'
)

#: Signature algorithms accepted for ID tokens (asymmetric only: never ``none`` or HS*).
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512")
#: Seconds of clock difference tolerated on ``exp`` and ``iat``.
CLOCK_LEEWAY = 60
#: How long a discovery document or a key set is reused, seconds.
METADATA_TTL = 3600
#: Issuers (and key sets) cached at most, per provider instance.
METADATA_CACHE_SIZE = 16
#: How long a failed discovery or JWKS fetch is remembered (no new attempt), seconds.
FAILURE_TTL = 60
#: The discovery document's endpoint keys that must share the issuer's origin.
ENDPOINT_KEYS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
                 "end_session_endpoint")
T = TypeVar("T")
NAME_PATTERN = r"[a-z][a-z0-9_-]{0,31}"


@dataclass(frozen=True)
class ProviderMetadata:
    """What the discovery document says, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]
    #: RP-Initiated Logout's endpoint, when the provider offers one.
    end_session_endpoint: str | None = None


def _default_title(name: str) -> str:
    if name == OIDCProvider.name:
        return OIDCProvider.title
    return re.sub(r"[-_]+", " ", name).title()


class OIDCProvider(OAuth2Provider):
    """Log in with any OpenID Connect provider, found from its issuer URL."""

    name = "oidc"
    title = "OpenID Connect"
    icon = OIDC_ICON
    scopes = ("openid", "email", "profile")
    send_scopes = True
    uses_pkce = True
    uses_nonce = True
    #: RP-Initiated Logout, when the editor ticks "Log out at the provider too".
    can_log_out = True
    endpoint_fields = ("issuer",)
    #: Discovery, the signing keys and a client-authenticated token request need no user.
    can_verify_credentials = True
    setup_steps = (
        _("At your identity provider (Google Cloud console, Microsoft Entra admin center, "
          "Keycloak, Okta, Auth0, ...) create an OpenID Connect client of the web "
          "application kind, with a client secret."),
        _("Paste ${callback_url} as its redirect URI."),
        _("Allow the openid, email and profile scopes (most providers allow them by "
          "default)."),
        _("Copy the provider's issuer URL into Issuer URL, and the client ID and client "
          "secret into the two fields after it."),
    )

    def __init__(self, settings: SocialLoginSettings, name: str | None = None,
                 title: str | None = None) -> None:
        name = name or self.name
        title = title or settings.provider_setting(name, "title", _default_title(name))
        super().__init__(settings, name, title)
        self.fields = (
            Field("issuer", "Issuer URL", required=True, input_type="url",
                  help="The provider's issuer, e.g. https://accounts.google.com or "
                       "https://keycloak.example.com/realms/staff (its discovery document "
                       "is read from /.well-known/openid-configuration below it)."),
            Field("client_id", f"{self.title} Client ID", required=True,
                  help=_("The client ID of the application at the provider."),
                  pattern=r"[\x21-\x7e]{1,255}",
                  pattern_message=_("Paste the client ID exactly as shown, without spaces.")),
            Field("client_secret", f"{self.title} Client Secret", required=True, secret=True,
                  help=_("The client secret of the application at the provider."),
                  pattern=r"[\x21-\x7e]{4,255}",
                  pattern_message=_("Paste the secret exactly as shown, without spaces.")),
            Field("button_title", "Button title", max_length=40,
                  help=f'The name on the login button, e.g. "Google" (empty: {self.title}).'),
            Field("logout_at_provider", _("Log out at the provider too"), input_type="checkbox",
                  pattern="yes", max_length=3,
                  help=_("When ticked, logging out of this site also ends the visitor's "
                         "session at the provider (if it offers RP-initiated logout). "
                         "Register this site's address followed by /logout/done as a "
                         "post-logout redirect URI at the provider.")),
        )
        self.discovery_cache = LRUCache(METADATA_CACHE_SIZE, METADATA_TTL)
        self.jwks_cache = LRUCache(METADATA_CACHE_SIZE, METADATA_TTL)
        #: Failed fetches (discovery and JWKS, by URL) and the error they ended with.
        self.failure_cache = LRUCache(METADATA_CACHE_SIZE, FAILURE_TTL)
        self._fetch_lock = threading.RLock()

    def forget_cached_state(self) -> None:
        """Also forget the discovery documents, key sets and failures fetched."""
        super().forget_cached_state()
        with self._fetch_lock:
            for cache in (self.discovery_cache, self.jwks_cache, self.failure_cache):
                cache.clear()

    @classmethod
    def instance_names(cls, settings: SocialLoginSettings, name: str) -> Sequence[str]:
        """The names listed in ``cms_social_login.<name>.providers``, else just ``name``."""
        listed = aslist(settings.provider_setting(name, "providers", "").replace(",", " "))
        for instance in listed:
            if not re.fullmatch(NAME_PATTERN, instance):
                raise ConfigurationError(
                    f"{PREFIX}{name}.providers: {instance!r} is not a provider name "
                    "(lower case letters, digits, - and _, starting with a letter)")
        return tuple(dict.fromkeys(listed)) or (name,)

    def display_title(self, values: Mapping[str, str]) -> str:
        return (values.get("button_title") or "").strip() or self.title

    def identity_issuer(self, values: Mapping[str, str]) -> str:
        """The tab's issuer: ``iss`` and ``sub`` together name a person (Core §5.7)."""
        return (values.get("issuer") or "").strip().rstrip("/")

    def validate(self, values: Mapping[str, str]) -> dict[str, str]:
        issuer = values.get("issuer") or ""
        error = url_field_error(issuer, "Issuer URL", self.url_policy) if issuer else None
        return {"issuer": error} if error else {}

    def verify_credentials(self, values: Mapping[str, str]) -> Verification:
        """Read the discovery document and the signing keys, then send a made-up code to
        the token endpoint with the client's credentials (see
        :meth:`~cms_social_login.providers.base.OAuth2Provider.verify_by_token_endpoint`)."""
        issuer = {"issuer": values.get("issuer", "")}
        try:
            metadata = self.metadata(values)
        except ProviderError:
            return Verification(False, _("No usable OpenID Connect discovery document at "
                                         "${issuer}: check the Issuer URL.", mapping=issuer))
        try:
            self.key_set(metadata)
        except ProviderError:
            return Verification(False, _("The issuer ${issuer} publishes no usable signing "
                                         "key, so its logins could not be checked.",
                                         mapping=issuer))
        return self.verify_by_token_endpoint(values)

    # ------------------------------------------------------------------ discovery

    def _fetch_once(self, cache: LRUCache, key: str, fetch: Callable[[], T],
                    fresh: bool = False) -> T:
        """``cache[key]``, else ``fetch()`` kept there; a failure is remembered for
        :data:`FAILURE_TTL` and raised again meanwhile without a new attempt (``fresh``:
        fetch anyway). One fetch at a time per provider: others wait for its result, but
        no longer than :data:`~cms_social_login.http.SLOT_PATIENCE` (a hung issuer must
        not hold every worker of the site), then they are told the provider is slow."""
        if not fresh:
            cached = cache.get(key)
            if cached is not None:
                return cached
        if not self._fetch_lock.acquire(timeout=SLOT_PATIENCE):
            raise ProviderBusy(
                _("${title} is slow to answer right now; please try again in a moment.",
                  mapping={"title": self.title}),
                "another fetch of the discovery document or keys is still in flight")
        try:
            if not fresh:
                cached = cache.get(key)
                if cached is not None:
                    return cached
                failed = self.failure_cache.get(key)
                if failed is not None:
                    raise ProviderError(failed.message, failed.cause)
            try:
                value = fetch()
            except ProviderBusy:  # this process is busy with the issuer: not its failure
                raise
            except ProviderError as exc:
                self.failure_cache.put(key, exc)
                raise
            self.failure_cache.discard(key)
            cache.put(key, value)
            return value
        finally:
            self._fetch_lock.release()

    def metadata(self, values: Mapping[str, str], fresh: bool = False) -> ProviderMetadata:
        """The checked discovery document of the tab's issuer (cached; ``fresh``: fetched
        again)."""
        issuer = values["issuer"].strip()
        return self._fetch_once(self.discovery_cache, issuer,
                                lambda: self._fetch_metadata(issuer), fresh)

    def _fetch_metadata(self, issuer: str) -> ProviderMetadata:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = self.http.request_json("GET", url)
        document = response.data
        if response.status != 200 or not isinstance(document, dict):
            raise ProviderError(
                _("We could not reach ${title}. Please try again in a moment.",
                  mapping={"title": self.title}),
                "discovery: the server answered with an error")
        return self._check_metadata(issuer, document)

    def _check_metadata(self, issuer: str, document: Mapping[str, Any]) -> ProviderMetadata:
        def misconfigured(cause: str) -> ProviderError:
            return ProviderError(
                _("${title} login is not set up correctly on this site. Please tell the "
                  "site's editors.", mapping={"title": self.title}),
                f"discovery: {cause}")

        stated = document.get("issuer")
        if not isinstance(stated, str) or stated.rstrip("/") != issuer.rstrip("/"):
            raise misconfigured("the document names another issuer")
        urls: dict[str, str | None] = {}
        allowed_origins = {url_origin(issuer), *(
            url_origin(o) if o != "*" else o for o in self.settings.allowed_endpoint_origins)}
        for key in ENDPOINT_KEYS:
            value = document.get(key)
            if value is None and key in ("userinfo_endpoint", "end_session_endpoint"):
                urls[key] = None
                continue
            if not isinstance(value, str) or url_field_error(value, key, self.url_policy):
                raise misconfigured(f"{key} is missing, not an https URL or not allowed")
            if "*" not in allowed_origins and url_origin(value) not in allowed_origins:
                raise misconfigured(f"{key} is on another origin than the issuer (allow it "
                                    "with cms_social_login.allowed_endpoint_origins)")
            urls[key] = value

        def strings(key: str) -> tuple[str, ...]:
            value = document.get(key)
            return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) \
                else ()

        return ProviderMetadata(
            issuer=stated,
            authorization_endpoint=str(urls["authorization_endpoint"]),
            token_endpoint=str(urls["token_endpoint"]),
            jwks_uri=str(urls["jwks_uri"]),
            userinfo_endpoint=urls["userinfo_endpoint"],
            signing_algorithms=strings("id_token_signing_alg_values_supported"),
            token_auth_methods=strings("token_endpoint_auth_methods_supported"),
            end_session_endpoint=urls["end_session_endpoint"],
        )

    def key_set(self, metadata: ProviderMetadata, refresh: bool = False) -> KeySet:
        """The issuer's signing keys (cached; ``refresh`` fetches them again, unless a
        fetch failed within :data:`FAILURE_TTL`)."""
        if refresh:
            with self._fetch_lock:
                failed = self.failure_cache.get(metadata.jwks_uri)
                if failed is not None:
                    raise ProviderError(failed.message, failed.cause)
        return self._fetch_once(self.jwks_cache, metadata.jwks_uri,
                                lambda: self._fetch_key_set(metadata), refresh)

    def _fetch_key_set(self, metadata: ProviderMetadata) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet, import_key

        response = self.http.request_json("GET", metadata.jwks_uri)
        data = response.data
        raw_keys = data.get("keys") if isinstance(data, dict) else None
        if response.status != 200 or not isinstance(raw_keys, list):
            raise ProviderError(
                _("We could not reach ${title}. Please try again in a moment.",
                  mapping={"title": self.title}),
                "JWKS: the server answered with an error")
        keys = []
        for raw in raw_keys:
            if not isinstance(raw, dict) or raw.get("use") not in (None, "sig"):
                continue
            try:
                keys.append(import_key(raw))
            except (JoseError, ValueError, TypeError, KeyError):
                continue  # a key type we do not use (or a broken entry): not for us
        if not keys:
            raise ProviderError(
                _("${title} login is not set up correctly on this site. Please tell the "
                  "site's editors.", mapping={"title": self.title}),
                "JWKS: no usable signing key")
        return KeySet(keys)

    def warm(self, values: Mapping[str, str]) -> str | None:
        """Fetch the discovery document and the keys afresh (at Save), so that visitors
        find them cached; a failure is remembered like any other. The reason in words
        for the editor when it fails, else None."""
        try:
            metadata = self.metadata(values, fresh=True)
            self._fetch_once(self.jwks_cache, metadata.jwks_uri,
                             lambda: self._fetch_key_set(metadata), fresh=True)
        except ProviderError as exc:
            return _("${title} cannot be used yet: ${reason}. Visitors cannot log in with "
                     "it until this is fixed; Save again to retry.",
                     mapping={"title": self.display_title(values),
                              "reason": reason_in_words(exc)})
        return None

    def logout_url(self, values: Mapping[str, str], id_token: str,
                   post_logout_redirect_uri: str, state: str) -> str | None:
        """Where to send the browser to end the provider's session too: the issuer's
        ``end_session_endpoint``, when the editor ticked the option and it has one."""
        if values.get("logout_at_provider") != "yes":
            return None
        endpoint = self.metadata(values).end_session_endpoint
        if not endpoint:
            return None
        query = urlencode({"id_token_hint": id_token, "client_id": values["client_id"],
                           "post_logout_redirect_uri": post_logout_redirect_uri,
                           "state": state})
        return endpoint + ("&" if "?" in endpoint else "?") + query

    # ------------------------------------------------------------------ OAuth 2.0 parts

    def authorize_endpoint(self, values: Mapping[str, str]) -> str:
        return self.metadata(values).authorization_endpoint

    def token_endpoint(self, values: Mapping[str, str]) -> str:
        return self.metadata(values).token_endpoint

    def token_auth_method(self, values: Mapping[str, str]) -> str:
        """As the discovery document prefers: HTTP Basic (the OpenID Connect default)
        unless only ``client_secret_post`` is offered."""
        methods = self.metadata(values).token_auth_methods
        if methods and "client_secret_basic" not in methods \
                and "client_secret_post" in methods:
            return "client_secret_post"
        return "client_secret_basic"

    # ------------------------------------------------------------------ ID token

    def token_profile(self, token: Mapping[str, Any], login: LoginContext
                      ) -> dict[str, Any]:
        metadata = self.metadata(login.values)
        claims = self.verify_id_token(token.get("id_token"), login.values, metadata,
                                      login.nonce)
        if metadata.userinfo_endpoint and not ("email" in claims and "name" in claims):
            info = self.api_get(metadata.userinfo_endpoint, str(token["access_token"]))
            if info.get("sub") != claims["sub"]:
                raise ProviderError(
                    _("${title} could not confirm who you are. Please try again.",
                  mapping={"title": self.title}),
                    "userinfo: sub differs from the ID token's")
            claims = {**info, **claims}
        return self.profile_from_claims(claims, metadata)

    def verify_id_token(self, id_token: object, values: Mapping[str, str],
                        metadata: ProviderMetadata, nonce: str | None) -> dict[str, Any]:
        """The claims of a valid ID token, or ProviderError (the reason goes to the log)."""
        from joserfc import jwt
        from joserfc.errors import InvalidKeyIdError, JoseError

        def refused(cause: str) -> ProviderError:
            return ProviderError(
                _("${title} could not confirm who you are. Please try again.",
                  mapping={"title": self.title}),
                f"ID token refused: {cause}")

        if not isinstance(id_token, str) or not id_token:
            raise refused("the token answer has no id_token")
        algorithms = [a for a in metadata.signing_algorithms if a in ASYMMETRIC_ALGORITHMS] \
            or ["RS256"]
        try:
            try:
                decoded = jwt.decode(id_token, self.key_set(metadata), algorithms=algorithms)
            except InvalidKeyIdError:
                # A key we have not seen: the provider may have rotated its keys.
                decoded = jwt.decode(id_token, self.key_set(metadata, refresh=True),
                                     algorithms=algorithms)
        except JoseError as exc:
            raise refused(f"signature or format ({exc.error})") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise refused(f"malformed ({type(exc).__name__})") from exc
        claims = decoded.claims
        if not isinstance(claims, dict):
            raise refused("the payload is not a JSON object")
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": metadata.issuer},
            "aud": {"essential": True, "value": values["client_id"]},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        try:
            jwt.JWTClaimsRegistry(leeway=CLOCK_LEEWAY, **options).validate(claims)
        except JoseError as exc:
            raise refused(f"claims ({exc.error}: {exc.description})") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (azp is not None and azp != values["client_id"]) \
                or (len(audiences) > 1 and azp is None):
            raise refused("azp is not this client")
        sub = claims["sub"]
        if not isinstance(sub, str) or not 0 < len(sub) <= 255:
            raise refused("sub is not a string of 1 to 255 characters")
        return claims

    def profile_from_claims(self, claims: Mapping[str, Any], metadata: ProviderMetadata
                            ) -> dict[str, Any]:
        """The profile of checked OpenID Connect claims."""
        email = text(claims.get("email"))
        verified = claims.get("email_verified") in (True, "true")
        return build_profile(
            domain=urlsplit(metadata.issuer).hostname or metadata.issuer,
            userid=claims["sub"], username=text(claims.get("preferred_username")),
            display_name=text(claims.get("name")), given_name=text(claims.get("given_name")),
            family_name=text(claims.get("family_name")),
            emails=[Email(email, True, verified)] if email else [],
            photo=text(claims.get("picture")), issuer=metadata.issuer)
