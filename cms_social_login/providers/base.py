"""Base classes of provider plugins: settings fields, ``Provider`` and ``OAuth2Provider``."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from velruse import AuthenticationComplete, AuthenticationDenied
from zope.interface import implementer

from ..http import (
    AccessRestricted,
    HttpClient,
    HttpResponse,
    ProviderError,
    RefreshTokenRejected,
)
from ..i18n import _, english
from ..interfaces import IProvider
from ..settings import SocialLoginSettings


class FieldError(ValueError):
    """A settings value was refused; ``message`` is shown by the field (translated).

    ``str()`` gives the English text, for logs and command-line tools.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return english(self.message)


@dataclass(frozen=True)
class Field:
    """One setting in a provider's tab.

    ``secret`` fields are encrypted at rest and never rendered back; ``pattern`` (a
    regular expression the whole trimmed value must match) refuses malformed values
    with ``pattern_message``.
    """

    name: str
    label: str
    help: str = ""
    required: bool = False
    secret: bool = False
    max_length: int = 255
    pattern: str | None = None
    pattern_message: str = _("This value is not in the expected format.")
    input_type: str = "text"

    def clean(self, raw: str | None) -> str:
        """The trimmed value, or FieldError with a message for the editor."""
        value = (raw or "").strip()
        if len(value) > self.max_length:
            raise FieldError(_("${label} must be at most ${max} characters.",
                               mapping={"label": _(self.label), "max": self.max_length}))
        if value and any(ord(ch) < 32 for ch in value):
            raise FieldError(_("${label} must not contain control characters.",
                               mapping={"label": _(self.label)}))
        if value and self.pattern and not re.fullmatch(self.pattern, value):
            raise FieldError(self.pattern_message)
        return value


@implementer(IProvider)
class Provider:
    """A login provider plugin.

    Subclasses set ``name``, ``title``, ``fields`` and implement
    :meth:`authorize_redirect` and :meth:`complete`. An instance is made once per
    process with the site's settings; the editor's values for its fields arrive with
    each call as ``values`` (secrets decrypted).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: Inline SVG shown on the login button and the tab (trusted markup from the plugin).
    icon: ClassVar[str] = ""
    #: A template of the provider's own for its tab, or None for the generic one.
    tab_template: ClassVar[str | None] = None
    #: Whether the provider supports PKCE (RFC 7636); when True, S256 is always sent.
    uses_pkce: ClassVar[bool] = False
    #: Whether the provider takes an OpenID Connect ``nonce``.
    uses_nonce: ClassVar[bool] = False
    #: Plain-words help shown at the top of the tab (how to get the credentials).
    setup_help: ClassVar[str] = ""

    fields: Sequence[Field] = ()

    def __init__(self, settings: SocialLoginSettings, name: str | None = None,
                 title: str | None = None) -> None:
        if name:
            self.name = name  # type: ignore[misc]
        if not self.name or not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", self.name):
            raise ValueError(f"invalid provider name {self.name!r}")
        self.settings = settings
        # The tab's and button's title: ``title=`` (the directive's), else the setting
        # ``cms_social_login.<name>.title``, else the class's.
        self.title = (title or settings.provider_setting(  # type: ignore[misc]
            self.name, "title", type(self).title)).strip()

    @classmethod
    def instance_names(cls, settings: SocialLoginSettings, name: str) -> Sequence[str]:
        """The provider names to register for the entry point called ``name``.

        One by default. A generic provider (OpenID Connect) returns several, read from
        the settings, so that one plugin offers one tab per configured instance.
        """
        return (name,)

    def display_title(self, values: Mapping[str, str]) -> str:
        """The name to show on the button for the editor's ``values`` (default: ``title``)."""
        return self.title

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def validate(self, values: Mapping[str, str]) -> dict[str, str]:
        """Cross-field checks on cleaned values; return ``{field: message}``."""
        return {}

    def authorize_redirect(self, request: Any, values: Mapping[str, str], state: str,
                           redirect_uri: str, code_verifier: str | None,
                           nonce: str | None) -> str:
        """The URL at the provider where the visitor approves the login."""
        raise NotImplementedError

    def complete(self, request: Any, values: Mapping[str, str], params: Mapping[str, str],
                 redirect_uri: str, code_verifier: str | None, nonce: str | None
                 ) -> AuthenticationComplete | AuthenticationDenied:
        """Finish the login from the callback's query ``params``.

        Returns velruse's ``AuthenticationComplete`` (with a Portable Contacts profile
        whose ``accounts[0]["userid"]`` is the provider's stable user id) or
        ``AuthenticationDenied``; raises :class:`ProviderError` when the provider fails.
        """
        raise NotImplementedError


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


CLIENT_ID_PATTERN = r"[A-Za-z0-9._~\-]{4,255}"


class OAuth2Provider(Provider):
    """An OAuth 2.0 authorization-code provider.

    Subclasses give the default endpoints (each overridable by the setting
    ``cms_social_login.<name>.<endpoint>``), the ``scopes`` and implement
    :meth:`fetch_profile`, which turns an access token into a Portable Contacts
    profile. The client id and secret come from the editor's tab.
    """

    default_authorize_url: ClassVar[str] = ""
    default_token_url: ClassVar[str] = ""
    default_api_url: ClassVar[str] = ""
    scopes: ClassVar[Sequence[str]] = ()
    #: Scopes are sent in the authorize request (Bitbucket sets them on the consumer).
    send_scopes: ClassVar[bool] = True
    #: "basic" (HTTP Basic) or "post" (client_id/client_secret in the form body).
    client_auth: ClassVar[str] = "basic"
    #: The ``domain`` of the profile's account entry.
    domain: ClassVar[str] = ""

    def __init__(self, settings: SocialLoginSettings, name: str | None = None,
                 title: str | None = None) -> None:
        super().__init__(settings, name, title)
        self.authorize_url = settings.provider_setting(self.name, "authorize_url",
                                                       self.default_authorize_url)
        self.token_url = settings.provider_setting(self.name, "token_url",
                                                   self.default_token_url)
        self.api_url = settings.provider_setting(self.name, "api_url",
                                                 self.default_api_url).rstrip("/")
        self.http = HttpClient(self.title, settings.http_timeout,
                               max_concurrent=settings.max_concurrent_calls_per_provider)
        self.fields = (
            Field("client_id", f"{self.title} Client ID", required=True,
                  help=_("The key of your ${title} OAuth consumer.",
                         mapping={"title": self.title}),
                  pattern=CLIENT_ID_PATTERN,
                  pattern_message=_("Paste the key exactly as shown: letters, digits, "
                                    "and . _ ~ - only.")),
            Field("client_secret", f"{self.title} Client Secret", required=True, secret=True,
                  help=_("The secret of your ${title} OAuth consumer.",
                         mapping={"title": self.title}),
                  pattern=r"[\x21-\x7e]{4,255}",
                  pattern_message=_("Paste the secret exactly as shown, without spaces.")),
            *self.extra_fields(),
        )

    def extra_fields(self) -> Sequence[Field]:
        """Fields beyond the client id and secret."""
        return ()

    def authorize_params(self, values: Mapping[str, str], state: str, redirect_uri: str,
                         code_verifier: str | None, nonce: str | None) -> dict[str, str]:
        """The query of the authorize URL."""
        params = {"client_id": values["client_id"], "response_type": "code",
                  "state": state, "redirect_uri": redirect_uri}
        if self.send_scopes and self.scopes:
            params["scope"] = " ".join(self.scopes)
        if code_verifier:
            params["code_challenge"] = pkce_challenge(code_verifier)
            params["code_challenge_method"] = "S256"
        if nonce:
            params["nonce"] = nonce
        return params

    def authorize_redirect(self, request: Any, values: Mapping[str, str], state: str,
                           redirect_uri: str, code_verifier: str | None,
                           nonce: str | None) -> str:
        params = self.authorize_params(values, state, redirect_uri, code_verifier, nonce)
        authorize_url = self.authorize_endpoint(values)
        separator = "&" if "?" in authorize_url else "?"
        return authorize_url + separator + urlencode(params)

    def authorize_endpoint(self, values: Mapping[str, str]) -> str:
        """The authorize URL for the editor's ``values`` (default: from the settings)."""
        return self.authorize_url

    def token_endpoint(self, values: Mapping[str, str]) -> str:
        """The token URL for the editor's ``values`` (default: from the settings)."""
        return self.token_url

    def complete(self, request: Any, values: Mapping[str, str], params: Mapping[str, str],
                 redirect_uri: str, code_verifier: str | None, nonce: str | None
                 ) -> AuthenticationComplete | AuthenticationDenied:
        if params.get("error"):
            return AuthenticationDenied(reason=str(params.get("error"))[:100],
                                        provider_name=self.name, provider_type=self.name)
        code = params.get("code")
        if not code:
            raise ProviderError(_("${title} did not send a login code. Please try again.",
                                  mapping={"title": self.title}),
                                "callback without code or error")
        token = self.exchange_code(values, code, redirect_uri, code_verifier)
        profile = self.token_profile(token, values, nonce)
        credentials = {
            "oauthAccessToken": token["access_token"],
            "oauthRefreshToken": token.get("refresh_token"),
            "oauthExpiresIn": token.get("expires_in"),
            "scopes": token.get("scopes") or token.get("scope"),
        }
        return AuthenticationComplete(profile=profile, credentials=credentials,
                                      provider_name=self.name, provider_type=self.name)

    def exchange_code(self, values: Mapping[str, str], code: str, redirect_uri: str,
                      code_verifier: str | None) -> dict[str, Any]:
        """Trade the code for a token (form-encoded POST, client authenticated)."""
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        response = self.token_request(values, form)
        return self.read_token_response(response)

    def read_token_response(self, response: HttpResponse) -> dict[str, Any]:
        """The token answer's JSON, or ProviderError saying in plain words what failed."""
        if response.status == 200 and isinstance(response.data, dict) \
                and isinstance(response.data.get("access_token"), str):
            return response.data
        error = response.data.get("error") if isinstance(response.data, dict) else None
        if response.status in (400, 401) and error in ("unauthorized_client", "invalid_client"):
            raise ProviderError(
                _("${title} login is not set up correctly on this site. Please tell the "
                  "site's editors.", mapping={"title": self.title}),
                f"token endpoint refused the client credentials (HTTP {response.status} "
                f"{error})",
            )
        if response.status == 400 and error == "invalid_grant":
            raise ProviderError(
                _("The ${title} login code was not accepted (it may have expired). Please "
                  "try again.", mapping={"title": self.title}),
                "token endpoint: invalid_grant",
            )
        raise ProviderError(
            _("${title} could not complete the login. Please try again in a moment.",
              mapping={"title": self.title}),
            f"token endpoint: HTTP {response.status}"
            + (f" {error}" if isinstance(error, str) else ""),
        )

    def refresh(self, values: Mapping[str, str], refresh_token: str) -> dict[str, Any]:
        """A new token answer for ``refresh_token`` (``grant_type=refresh_token``).

        ``values`` are the editor's values (client id and secret). Providers that rotate
        refresh tokens (Bitbucket) send a new ``refresh_token`` and the old one stops
        working, so the caller must store the answer before anything else. Raises
        :class:`~cms_social_login.http.RefreshTokenRejected` when the provider refuses
        the refresh token (``invalid_grant``: expired, revoked or already used) and
        :class:`~cms_social_login.http.ProviderError` for any other failure.
        """
        response = self.token_request(values, {"grant_type": "refresh_token",
                                               "refresh_token": refresh_token})
        data = response.data
        if response.status == 200 and isinstance(data, dict) \
                and isinstance(data.get("access_token"), str):
            return data
        error = data.get("error") if isinstance(data, dict) else None
        if response.status in (400, 401) and error == "invalid_grant":
            raise RefreshTokenRejected(
                _("Your ${title} authorization has expired. Please log in with ${title} "
                  "again.", mapping={"title": self.title}),
                "token endpoint: invalid_grant for the refresh token",
            )
        raise ProviderError(
            _("${title} could not renew the authorization. Please try again in a moment.",
              mapping={"title": self.title}),
            f"token endpoint (refresh): HTTP {response.status}"
            + (f" {error}" if isinstance(error, str) else ""),
        )

    def token_request(self, values: Mapping[str, str], form: dict[str, str]) -> HttpResponse:
        """POST ``form`` to the token endpoint with the client's credentials."""
        auth = None
        if self.client_auth == "basic":
            auth = (values["client_id"], values["client_secret"])
        else:
            form = {**form, "client_id": values["client_id"],
                    "client_secret": values["client_secret"]}
        return self.http.request_json("POST", self.token_endpoint(values), data=form,
                                      auth=auth)

    def api_headers(self, access_token: str) -> dict[str, str]:
        """The headers of an API call: the token in ``Authorization: Bearer``."""
        return {"Authorization": f"Bearer {access_token}"}

    def api_get(self, url: str, access_token: str, *, expect: type = dict) -> Any:
        """GET an API URL with :meth:`api_headers`; the answer must be JSON of ``expect``."""
        response = self.http.request_json("GET", url, headers=self.api_headers(access_token))
        if response.status != 200 or not isinstance(response.data, expect):
            raise ProviderError(
                _("${title} could not send your profile. Please try again in a moment.",
                  mapping={"title": self.title}),
                f"GET {url}: HTTP {response.status}",
            )
        return response.data

    def token_profile(self, token: Mapping[str, Any], values: Mapping[str, str],
                      nonce: str | None) -> dict[str, Any]:
        """The profile of the token answer's user: :meth:`fetch_profile` by default.

        An OpenID Connect provider overrides this to check the ID token (and its
        ``nonce``) that came with the access token.
        """
        return self.fetch_profile(token, values)

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        """The Portable Contacts profile of the token's user."""
        raise NotImplementedError


def first_listed_member(fetch_page: Callable[[int], list[Any]], key: str,
                        matches: Callable[[str], bool], *, per_page: int, max_pages: int,
                        refusal: str, what: str, noun: str, allowed: int) -> str:
    """The first ``item[key]`` of a numbered, paginated list that ``matches``.

    ``fetch_page(n)`` returns page ``n`` (1, 2, ...); a page shorter than ``per_page`` is
    the last, and at most ``max_pages`` are read. None matching raises
    :class:`~cms_social_login.http.AccessRestricted` with ``refusal`` for the visitor and,
    for the log, ``what`` was read: how many ``noun`` it listed against ``allowed``.
    Used by membership restrictions (GitHub organizations, GitLab groups).
    """
    seen = 0
    for page_number in range(1, max_pages + 1):
        page = fetch_page(page_number)
        for item in page:
            value = item.get(key) if isinstance(item, dict) else None
            if isinstance(value, str):
                seen += 1
                if matches(value):
                    return value
        if len(page) < per_page:
            raise AccessRestricted(refusal, f"{what}: member of {seen} {noun}, none of the "
                                            f"{allowed} allowed")
    raise AccessRestricted(refusal, f"{what}: none of {allowed} allowed {noun} in the first "
                                    f"{seen} listed (stopped after {max_pages} pages)")


#: Hosts where plain ``http://`` is accepted in a URL field (local development, tests).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def url_field_error(value: str, label: str) -> str | None:
    """Why ``value`` is not an acceptable server URL for a provider, or None.

    It must be an absolute ``https://`` URL without query, fragment or credentials;
    ``http://`` is accepted only for loopback hosts (a provider on this machine).
    """
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return _("${label} must be a full address starting with https://.",
                 mapping={"label": _(label)})
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS and f"[{host}]" not in LOOPBACK_HOSTS:
        return _("${label} must start with https:// (http:// only for this machine).",
                 mapping={"label": _(label)})
    if parts.query or parts.fragment or parts.username or parts.password:
        return _("${label} must not contain a query, a fragment or a password.",
                 mapping={"label": _(label)})
    return None
