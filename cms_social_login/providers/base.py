"""Provider API 1.0: settings fields, the per-login context, ``Provider`` (with its optional
abilities) and ``OAuth2Provider``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from velruse import AuthenticationComplete, AuthenticationDenied
from zope.interface import implementer

from ..http import HttpClient, UrlPolicy
from ..i18n import _, english
from ..interfaces import IProvider
from ..settings import SocialLoginSettings
from .errors import NOT_ALLOWED_REASON, ProviderError, RefreshTokenRejected
from .membership import MembershipRule

if TYPE_CHECKING:
    from .oauth2_client import TokenEndpoint


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


@dataclass(frozen=True)
class LoginContext:
    """One login as a provider sees it (provider API 1.0), made by the core when the
    login starts and again at the callback, for a visitor's login and an editor's Test
    login alike.

    The core makes, stores and checks the state, the PKCE verifier and the nonce: a
    provider keeps nothing in memory between the two requests (several processes may
    serve one site).
    """

    #: The editor's values of the provider's tab (secrets decrypted).
    values: Mapping[str, str]
    #: This site's callback URL of the provider (what is registered at the provider).
    redirect_uri: str
    #: The single-use ``state`` sent with the authorize request.
    state: str = ""
    #: The PKCE verifier (when the provider :attr:`~Provider.uses_pkce`).
    code_verifier: str | None = None
    #: The OpenID Connect nonce (when the provider :attr:`~Provider.uses_nonce`).
    nonce: str | None = None
    #: The site the login is for (``"default"`` on a single-site deployment).
    site: str = "default"


@implementer(IProvider)
class Provider:
    """A login provider plugin (provider API 1.0).

    Subclasses set ``name``, ``title``, ``fields`` and implement
    :meth:`authorize_redirect` and :meth:`complete`. An instance is made once per
    process with the site's settings; each login arrives as a :class:`LoginContext`, and
    the editor's values as ``values`` (secrets decrypted).

    Optional abilities are declared here, each with its default (the table in
    docs/writing-a-provider.md): :attr:`can_verify_credentials`,
    :attr:`can_use_client_credentials`, :attr:`can_refresh`, :attr:`membership_rule`,
    :attr:`can_log_out`. A provider that implements one declares it; the registry
    refuses, at start, a provider whose declarations and methods disagree.
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
    #: The fields whose values say which server the logins come from (a URL, an issuer).
    #: Changing one drops the stored secrets (the editor types them again) and asks the
    #: editor to confirm what happens to the people linked through the old server.
    endpoint_fields: ClassVar[tuple[str, ...]] = ()

    # Optional abilities (API 1.0), each with its default.
    #: :meth:`verify_credentials` checks the tab's credentials without a user. Default
    #: False: the tab says that only a Test login can check them.
    can_verify_credentials: ClassVar[bool] = False
    #: :meth:`client_credentials_token` gets a token for the client itself (RFC 6749
    #: 4.4). Default False: the grant is never attempted.
    can_use_client_credentials: ClassVar[bool] = False
    #: :meth:`refresh` renews a stored access token. Default False: a stored token is
    #: used until it expires, then dropped.
    can_refresh: ClassVar[bool] = False
    #: Who may log in, by membership at the provider (workspaces, organizations,
    #: groups); the provider feeds it with :meth:`member_pages`. Default None: every
    #: account may log in.
    membership_rule: ClassVar[MembershipRule | None] = None
    #: :meth:`logout_url` ends the visitor's session at the provider too. Default False:
    #: logging out of the site does not log out at the provider.
    can_log_out: ClassVar[bool] = False

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

    def authorize_redirect(self, login: LoginContext) -> str:
        """The URL at the provider where the visitor approves the login."""
        raise NotImplementedError

    def complete(self, login: LoginContext, params: Mapping[str, str]
                 ) -> AuthenticationComplete | AuthenticationDenied:
        """Finish the login from the callback's query ``params``.

        Returns velruse's ``AuthenticationComplete`` (with the profile of
        :func:`~cms_social_login.providers.profile.build_profile`, whose
        ``accounts[0]["userid"]`` is the provider's stable user id) or
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

    def forget_cached_state(self) -> None:
        """Forget what this instance keeps in memory between requests (fetched documents,
        connections, calls in flight), as if it were made anew with the same settings.

        :func:`cms_social_login.cached_state.forget_cached_state` calls it; a provider
        that keeps a cache of its own extends it (calling ``super()``). Default: nothing
        kept."""

    # ------------------------------------------------------------------ optional abilities

    def verify_credentials(self, values: Mapping[str, str]) -> Verification:
        """Ask the provider, without any user, whether the tab's ``values`` work
        (:attr:`can_verify_credentials`). The default cannot, and says so."""
        return Verification(None, _("${title} cannot check these credentials without a "
                                    "user: use Test login.", mapping={"title": self.title}))

    def client_credentials_token(self, values: Mapping[str, str]) -> dict[str, Any]:
        """A token answer for the client itself (:attr:`can_use_client_credentials`).
        The default has none: :class:`ProviderError`."""
        raise self._no_ability("client credentials")

    def refresh(self, values: Mapping[str, str], refresh_token: str) -> dict[str, Any]:
        """A new token answer for ``refresh_token`` (:attr:`can_refresh`).

        Providers that rotate refresh tokens (Bitbucket) send a new ``refresh_token`` and
        the old one stops working, so the caller must store the answer before anything
        else. Raises :class:`RefreshTokenRejected` when the provider refuses the refresh
        token and :class:`ProviderError` for any other failure (the default: always).
        """
        raise self._no_ability("refresh")

    def member_pages(self, access_token: str, values: Mapping[str, str]
                     ) -> Iterator[Sequence[str]]:
        """The pages of names (workspaces, organizations, groups) the token's user is a
        member of, for :attr:`membership_rule`. The default lists none."""
        return iter(())

    def access_rule(self, values: Mapping[str, str]) -> str | None:
        """The tab's rule on who may log in, in words (None: every account may): the
        :attr:`membership_rule`'s. A Test login shows it with its outcome."""
        return self.membership_rule.in_words(values) if self.membership_rule else None

    def check_membership(self, access_token: str, values: Mapping[str, str]) -> str | None:
        """The first name of the tab's allowed ones that the token's user is a member of;
        None when the rule is off. :class:`AccessRestricted` when the user is a member of
        none of them."""
        rule = self.membership_rule
        allowed = rule.allowed(values) if rule else ()
        if not allowed:
            return None
        return rule.first_member(self.member_pages(access_token, values), allowed)

    def logout_url(self, values: Mapping[str, str], id_token: str,
                   post_logout_redirect_uri: str, state: str) -> str | None:
        """The provider's URL that ends the visitor's session there too
        (:attr:`can_log_out`), or None (the default).

        ``id_token`` is the ID token of the visitor's login; the provider sends the
        browser back to ``post_logout_redirect_uri`` with ``state``.
        """
        return None

    def _no_ability(self, ability: str) -> ProviderError:
        return ProviderError(_("${title} cannot do this.", mapping={"title": self.title}),
                             f"{self.name} does not declare the ability: {ability}")


CLIENT_ID_PATTERN = r"[A-Za-z0-9._~\-]{4,255}"


class OAuth2Provider(Provider):
    """An OAuth 2.0 authorization-code provider; the protocol steps come from Authlib's
    client (:mod:`.oauth2_client`), sent through :attr:`http`.

    Subclasses give the default endpoints (each overridable by the setting
    ``cms_social_login.<name>.<endpoint>``), the ``scopes`` and implement
    :meth:`fetch_profile`, which turns an access token into a profile
    (:func:`~cms_social_login.providers.profile.build_profile`). The client id and
    secret come from the editor's tab.
    """

    default_authorize_url: ClassVar[str] = ""
    default_token_url: ClassVar[str] = ""
    default_api_url: ClassVar[str] = ""
    scopes: ClassVar[Sequence[str]] = ()
    #: Scopes are sent in the authorize request (Bitbucket sets them on the consumer).
    send_scopes: ClassVar[bool] = True
    #: "basic" (HTTP Basic) or "post" (client_id/client_secret in the form body).
    client_auth: ClassVar[str] = "basic"
    #: The provider's own token-endpoint error codes -> RFC 6749's (a quirk: GitHub).
    token_error_codes: ClassVar[Mapping[str, str]] = {}
    #: The ``domain`` of the profile's account entry.
    domain: ClassVar[str] = ""
    #: Every OAuth 2.0 token endpoint takes ``grant_type=refresh_token``.
    can_refresh = True
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
        self.http = self._new_http_client()
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
            *self.membership_fields(),
        )

    def _new_http_client(self) -> HttpClient:
        return HttpClient(self.title, self.settings.http_timeout,
                          max_concurrent=self.settings.max_concurrent_calls_per_provider,
                          policy=self.url_policy)

    def forget_cached_state(self) -> None:
        """A new :attr:`http` client: no pooled connection, every call slot free (a call
        still in flight ends on the old one)."""
        super().forget_cached_state()
        old, self.http = self.http, self._new_http_client()
        old.close()

    def extra_fields(self) -> Sequence[Field]:
        """Fields beyond the client id and secret (and the membership rule's)."""
        return ()

    def membership_fields(self) -> Sequence[Field]:
        """The optional field of the :attr:`membership_rule` (none without a rule)."""
        rule = self.membership_rule
        return (Field(rule.field, rule.label, help=rule.help, max_length=2000,
                      pattern=rule.pattern, pattern_message=rule.pattern_message),) \
            if rule else ()

    def authorize_endpoint(self, values: Mapping[str, str]) -> str:
        """The authorize URL for the editor's ``values`` (default: from the settings)."""
        return self.authorize_url

    def token_endpoint(self, values: Mapping[str, str]) -> str:
        """The token URL for the editor's ``values`` (default: from the settings)."""
        return self.token_url

    def token_auth_method(self, values: Mapping[str, str]) -> str:
        """Authlib's name of the client authentication at the token endpoint
        (default: from :attr:`client_auth`)."""
        from .oauth2_client import AUTH_METHODS

        return AUTH_METHODS[self.client_auth]

    def authorize_scopes(self, values: Mapping[str, str]) -> Sequence[str]:
        """The scopes the authorize request asks for: :attr:`scopes` (when
        :attr:`send_scopes`), plus the membership rule's scope while it is on."""
        rule = self.membership_rule
        extra = (rule.scope,) if rule and rule.scope and rule.allowed(values) else ()
        return (*self.scopes, *extra) if self.send_scopes else ()

    def authorize_redirect(self, login: LoginContext) -> str:
        from .oauth2_client import authorization_url

        return authorization_url(
            self.authorize_endpoint(login.values), login.values["client_id"],
            redirect_uri=login.redirect_uri, state=login.state,
            scopes=self.authorize_scopes(login.values),
            code_verifier=login.code_verifier, nonce=login.nonce)

    def complete(self, login: LoginContext, params: Mapping[str, str]
                 ) -> AuthenticationComplete | AuthenticationDenied:
        if params.get("error"):
            return AuthenticationDenied(reason=str(params.get("error"))[:100],
                                        provider_name=self.name, provider_type=self.name)
        code = params.get("code")
        if not code:
            raise ProviderError(_("${title} did not send a login code. Please try again.",
                                  mapping={"title": self.title}),
                                "callback without code or error")
        token = self.exchange_code(login, code)
        profile = self.token_profile(token, login)
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

    def token_endpoint_client(self, values: Mapping[str, str]) -> TokenEndpoint:
        """Authlib's client of the token endpoint for the tab's ``values``."""
        from .oauth2_client import TokenEndpoint

        return TokenEndpoint(self.http, self.token_endpoint(values), values["client_id"],
                             values["client_secret"], self.token_auth_method(values),
                             self.token_error_codes)

    def exchange_code(self, login: LoginContext, code: str) -> dict[str, Any]:
        """Trade the code for a token; ProviderError saying in plain words what failed."""
        from .oauth2_client import TokenEndpointError

        title = {"title": self.title}
        try:
            return self.token_endpoint_client(login.values).exchange_code(
                code, login.redirect_uri, login.code_verifier)
        except TokenEndpointError as refused:
            if refused.error in ("unauthorized_client", "invalid_client"):
                raise ProviderError(
                    _("${title} login is not set up correctly on this site. Please tell "
                      "the site's editors.", mapping=title),
                    f"token endpoint refused the client credentials ({refused.error})",
                ) from refused
            if refused.error == "invalid_grant":
                raise ProviderError(
                    _("The ${title} login code was not accepted (it may have expired). "
                      "Please try again.", mapping=title),
                    "token endpoint: invalid_grant") from refused
            raise ProviderError(
                _("${title} could not complete the login. Please try again in a moment.",
                  mapping=title), _token_cause("token endpoint", refused)) from refused

    def refresh(self, values: Mapping[str, str], refresh_token: str) -> dict[str, Any]:
        from .oauth2_client import TokenEndpointError

        try:
            return self.token_endpoint_client(values).refresh(refresh_token)
        except TokenEndpointError as refused:
            if refused.error == "invalid_grant":
                raise RefreshTokenRejected(
                    _("Your ${title} authorization has expired. Please log in with "
                      "${title} again.", mapping={"title": self.title}),
                    "token endpoint: invalid_grant for the refresh token") from refused
            raise ProviderError(
                _("${title} could not renew the authorization. Please try again in a "
                  "moment.", mapping={"title": self.title}),
                _token_cause("token endpoint (refresh)", refused)) from refused

    def client_credentials_token(self, values: Mapping[str, str]) -> dict[str, Any]:
        """A client-credentials token answer (RFC 6749 4.4); ``TokenEndpointError`` of
        :mod:`.oauth2_client` when the endpoint refuses."""
        if not self.can_use_client_credentials:
            raise self._no_ability("client credentials")
        return self.token_endpoint_client(values).client_credentials()

    def verify_by_client_credentials(self, values: Mapping[str, str]) -> Verification:
        """:meth:`verify_credentials` for providers that grant client-credentials tokens
        (:attr:`can_use_client_credentials`): a token proves the client id and secret
        without any user."""
        from .oauth2_client import TokenEndpointError

        title = {"title": self.title}
        try:
            self.client_credentials_token(values)
        except ProviderError as failure:
            return Verification.unanswered(failure, self.title, _(
                "Could not reach ${title}. Check the network and try again; nothing was "
                "stored.", mapping=title))
        except TokenEndpointError as refused:
            if refused.status in (400, 401, 403) and refused.error in (
                    "unauthorized_client", "invalid_client", "access_denied"):
                return Verification(False, _("${title} refused this key and secret.",
                                             mapping=title))
            if refused.error == "unsupported_grant_type":
                return Verification(None, _(
                    "${title} does not let this consumer be checked without a user (only "
                    "private consumers can be); use Test login.", mapping=title))
            return self._unclear(refused.status)
        return Verification(True, _("These credentials work: ${title} accepted the key "
                                    "and secret.", mapping=title))

    def verify_by_token_endpoint(self, values: Mapping[str, str]) -> Verification:
        """:meth:`verify_credentials` through the token endpoint alone: a made-up code is
        sent with the client's credentials. RFC 6749 5.2 has the server authenticate the
        client first, so ``invalid_client`` (``unauthorized_client``) means the client id
        or secret is wrong, and ``invalid_grant`` means they were accepted and only the
        code was refused. Nothing is granted either way."""
        from .oauth2_client import TokenEndpointError

        title = {"title": self.title}
        try:
            self.token_endpoint_client(values).exchange_code(
                "cms-social-login-credentials-check", "", None)
        except ProviderError as failure:
            return Verification.unanswered(failure, self.title, _(
                "Could not reach ${title}. Check the address and the network, then try "
                "again; nothing was stored.", mapping=title))
        except TokenEndpointError as refused:
            if refused.error in ("invalid_client", "unauthorized_client"):
                return Verification(False, _("${title} refused this Client ID and Client "
                                             "Secret.", mapping=title))
            if refused.error == "invalid_grant":
                return Verification(True, _("These credentials work: ${title} accepted the "
                                            "Client ID and Client Secret.", mapping=title))
            return self._unclear(refused.status)
        return self._unclear(200)

    def _unclear(self, status: int) -> Verification:
        return Verification(None, _("${title} answered with an error (HTTP ${status}); try "
                                    "again in a moment.",
                                    mapping={"title": self.title, "status": status}))

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

    def member_list_page(self, url: str, access_token: str, scope_hint: str,
                         expect: type = list) -> Any:
        """A page of a membership list (JSON of ``expect``), or None when the endpoint
        answers 404; a 403 (the token lacks a scope: ``scope_hint`` says which, for the
        log) is a setup problem for the editors."""
        response = self.http.request_json("GET", url, headers=self.api_headers(access_token))
        path = urlsplit(url).path[:200]
        if response.status == 200 and isinstance(response.data, expect):
            return response.data
        if response.status == 404:
            return None
        if response.status == 403:
            raise ProviderError(
                _("${title} login is not set up correctly on this site. Please tell the "
                  "site's editors.", mapping={"title": self.title}),
                f"GET {path}: refused ({scope_hint})")
        rule = self.membership_rule
        raise ProviderError(rule.unavailable if rule else _(
            "${title} sent an answer we could not read. Please try again.",
            mapping={"title": self.title}), f"GET {path}: the server answered with an error")

    def token_profile(self, token: Mapping[str, Any], login: LoginContext
                      ) -> dict[str, Any]:
        """The profile of the token answer's user: :meth:`fetch_profile` by default.

        An OpenID Connect provider overrides this to check the ID token (and its
        ``login.nonce``) that came with the access token.
        """
        return self.fetch_profile(token, login.values)

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        """The profile of the token's user
        (:func:`~cms_social_login.providers.profile.build_profile`)."""
        raise NotImplementedError


def _token_cause(what: str, refused: Any) -> str:
    """The log's words for a token endpoint's refusal (its error code, never a body)."""
    code = f" ({refused.error[:64]})" if refused.error else ""
    return f"{what}: the server answered with an error{code}"


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
