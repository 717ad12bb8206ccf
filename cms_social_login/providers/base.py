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

from ..http import HttpClient, HttpResponse, UrlPolicy
from ..i18n import _, english
from ..interfaces import IProvider
from ..settings import SocialLoginSettings
from .errors import NOT_ALLOWED_REASON, AccessRestricted, ProviderError, RefreshTokenRejected


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


@dataclass(frozen=True)
class Verification:
    """The answer of :meth:`Provider.verify_credentials`, shown in the tab: ``ok`` True
    (the provider accepted the credentials), False (it refused them) or None (it could
    not tell); ``message`` says so in words for the editor."""

    ok: bool | None
    message: str

    @classmethod
    def unanswered(cls, error: ProviderError, title: str, unreachable: Any) -> Verification:
        """The answer when the call failed with ``error``: ``unreachable`` (a message), or,
        when the site's own address policy refused the call, that in words (no network
        problem to look for: ``cms_social_login.allow_private_provider_urls``)."""
        if error.cause == NOT_ALLOWED_REASON:
            return cls(None, _("Could not check ${title}: the address is not allowed by this "
                               "site's settings. Nothing was stored.", mapping={"title": title}))
        return cls(None, unreachable)


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
    #: The tab's numbered setup guide, one step per entry (shown instead of
    #: ``setup_help``); ``${callback_url}`` in a step becomes the address to register.
    setup_steps: ClassVar[Sequence[str]] = ()
    #: Whether :meth:`verify_credentials` can check the tab's credentials without a
    #: user. False: the tab says that only a Test login can check them.
    can_verify_credentials: ClassVar[bool] = False
    #: The fields whose values say which server the logins come from (a URL, an issuer).
    #: Changing one drops the stored secrets (the editor types them again) and asks the
    #: editor to confirm what happens to the people linked through the old server.
    endpoint_fields: ClassVar[tuple[str, ...]] = ()

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

    def identity_issuer(self, values: Mapping[str, str]) -> str:
        """Who issues the user ids of this tab, for the editor's ``values``.

        Linked identities are unique per (provider, issuer, user id): the same user id
        from another issuer is another person (OpenID Connect Core 1.0 §5.7). Default
        ``""``: a provider with one fixed server. Override it when the settings or the
        editor's values can point the provider at another server.
        """
        return ""

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def validate(self, values: Mapping[str, str]) -> dict[str, str]:
        """Cross-field checks on cleaned values; return ``{field: message}``."""
        return {}

    def verify_credentials(self, values: Mapping[str, str]) -> Verification:
        """Ask the provider, without any user, whether the tab's ``values`` work.

        The default cannot: providers that can set :attr:`can_verify_credentials` and
        override this.
        """
        return Verification(None, _("${title} cannot check these credentials without a "
                                    "user: use Test login.", mapping={"title": self.title}))

    def access_rule(self, values: Mapping[str, str]) -> str | None:
        """The tab's rule on who may log in, in words (None: every account may).

        A Test login shows it with its outcome: :meth:`complete` raises
        :class:`~cms_social_login.http.AccessRestricted` for an account the rule refuses.
        """
        return None

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

    def warm(self, values: Mapping[str, str]) -> str | None:
        """Fetch now, at Save, what logins will need from the provider (an OpenID
        Connect discovery document and keys) so that visitors find it cached.

        Returns the reason in words for the editor when that fails, else None (the
        default: nothing to fetch).
        """
        return None

    def logout_url(self, values: Mapping[str, str], id_token: str,
                   post_logout_redirect_uri: str, state: str) -> str | None:
        """The provider's URL that ends the visitor's session there too, or None (the
        default: logging out of the site does not log out at the provider).

        ``id_token`` is the ID token of the visitor's login; the provider sends the
        browser back to ``post_logout_redirect_uri`` with ``state``.
        """
        return None


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
    #: Help of the client id and secret fields (``${title}``: the provider's title).
    client_id_help: ClassVar[str] = _("The client ID of the application you registered "
                                      "at ${title}.")
    client_secret_help: ClassVar[str] = _("The client secret of the application you "
                                          "registered at ${title}.")

    def __init__(self, settings: SocialLoginSettings, name: str | None = None,
                 title: str | None = None) -> None:
        super().__init__(settings, name, title)
        self.authorize_url = settings.provider_setting(self.name, "authorize_url",
                                                       self.default_authorize_url)
        self.token_url = settings.provider_setting(self.name, "token_url",
                                                   self.default_token_url)
        self.api_url = settings.provider_setting(self.name, "api_url",
                                                 self.default_api_url).rstrip("/")
        #: Where this provider may send requests (the operator's address policy).
        self.url_policy = UrlPolicy(allow_private=settings.allow_private_provider_urls)
        self.http = HttpClient(self.title, settings.http_timeout,
                               max_concurrent=settings.max_concurrent_calls_per_provider,
                               policy=self.url_policy)
        self.fields = (
            Field("client_id", f"{self.title} Client ID", required=True,
                  help=_(self.client_id_help, mapping={"title": self.title}),
                  pattern=CLIENT_ID_PATTERN,
                  pattern_message=_("Paste the key exactly as shown: letters, digits, "
                                    "and . _ ~ - only.")),
            Field("client_secret", f"{self.title} Client Secret", required=True, secret=True,
                  help=_(self.client_secret_help, mapping={"title": self.title}),
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
            # Bitbucket said "scopes" until May 2026 and "scope" since (BITBUCKET.md).
            "scopes": token.get("scope") or token.get("scopes"),
        }
        if isinstance(token.get("id_token"), str):
            credentials["idToken"] = token["id_token"]  # for RP-initiated logout
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
                f"token endpoint refused the client credentials ({error})",
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
            "token endpoint: the server answered with an error"
            + (f" ({error[:64]})" if isinstance(error, str) else ""),
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
        return self.read_refresh_response(response)

    def read_refresh_response(self, response: HttpResponse) -> dict[str, Any]:
        """The refresh answer's JSON; :class:`RefreshTokenRejected` when the provider
        refused the refresh token, ProviderError for other failures.

        This reads RFC 6749's shape (HTTP 400 ``invalid_grant``); a provider with its own
        error shape overrides it (GitHub: HTTP 200 with ``bad_refresh_token``).
        """
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
            "token endpoint (refresh): the server answered with an error"
            + (f" ({error[:64]})" if isinstance(error, str) else ""),
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

    def verify_by_client_credentials(self, values: Mapping[str, str]) -> Verification:
        """:meth:`verify_credentials` for providers that grant client-credentials tokens
        (RFC 6749 4.4): a token proves the client id and secret without any user."""
        title = {"title": self.title}
        try:
            response = self.token_request(values, {"grant_type": "client_credentials"})
        except ProviderError as failure:
            return Verification.unanswered(failure, self.title, _(
                "Could not reach ${title}. Check the network and try again; nothing was "
                "stored.", mapping=title))
        data = response.data if isinstance(response.data, dict) else {}
        if response.status == 200 and isinstance(data.get("access_token"), str):
            return Verification(True, _("These credentials work: ${title} accepted the key "
                                        "and secret.", mapping=title))
        error = data.get("error")
        if response.status in (400, 401, 403) and error in (
                "unauthorized_client", "invalid_client", "access_denied"):
            return Verification(False, _("${title} refused this key and secret.",
                                         mapping=title))
        if error == "unsupported_grant_type":
            return Verification(None, _("${title} does not let this consumer be checked "
                                        "without a user (only private consumers can be); "
                                        "use Test login.", mapping=title))
        return Verification(None, _("${title} answered with an error (HTTP ${status}); try "
                                    "again in a moment.",
                                    mapping={**title, "status": response.status}))

    def verify_by_token_endpoint(self, values: Mapping[str, str]) -> Verification:
        """:meth:`verify_credentials` through the token endpoint alone: a made-up code is
        sent with the client's credentials. RFC 6749 5.2 has the server authenticate the
        client first, so ``invalid_client`` (``unauthorized_client``) means the client id
        or secret is wrong, and ``invalid_grant`` means they were accepted and only the
        code was refused. Nothing is granted either way."""
        title = {"title": self.title}
        form = {"grant_type": "authorization_code",
                "code": "cms-social-login-credentials-check"}
        try:
            response = self.token_request(values, form)
        except ProviderError as failure:
            return Verification.unanswered(failure, self.title, _(
                "Could not reach ${title}. Check the address and the network, then try "
                "again; nothing was stored.", mapping=title))
        data = response.data if isinstance(response.data, dict) else {}
        error = data.get("error")
        if error in ("invalid_client", "unauthorized_client"):
            return Verification(False, _("${title} refused this Client ID and Client "
                                         "Secret.", mapping=title))
        if error == "invalid_grant":
            return Verification(True, _("These credentials work: ${title} accepted the "
                                        "Client ID and Client Secret.", mapping=title))
        return Verification(None, _("${title} answered with an error (HTTP ${status}); try "
                                    "again in a moment.",
                                    mapping={**title, "status": response.status}))

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
                f"GET {urlsplit(url).path[:200]}: the server answered with an error",
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


def url_field_error(value: str, label: str, policy: UrlPolicy | None = None) -> str | None:
    """Why ``value`` is not an acceptable server URL for a provider, or None.

    It must be an absolute URL without query, fragment or credentials that ``policy``
    (the operator's, see :class:`~cms_social_login.http.UrlPolicy`; default: the strict
    one) lets the site call: ``https://`` on a public address. The message is in words
    for the editor.
    """
    policy = policy or UrlPolicy()
    not_an_address = _("${label} must be a full address starting with https://.",
                       mapping={"label": _(label)})
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - a port that is not a number raises ValueError
    except ValueError:
        return not_an_address
    if parts.scheme not in ("https", "http") or not host:
        return not_an_address
    if parts.query or parts.fragment or parts.username or parts.password:
        return _("${label} must not contain a query, a fragment or a password.",
                 mapping={"label": _(label)})
    if policy.url_problem(value):
        if parts.scheme == "http" and not policy.is_loopback_host(host):
            return _("${label} must start with https://.", mapping={"label": _(label)})
        return _("The address is not allowed: ${label} must be a public https:// address "
                 "(this site does not call servers on this machine or the local network).",
                 mapping={"label": _(label)})
    return None
