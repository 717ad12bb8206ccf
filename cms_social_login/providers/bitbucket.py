"""Bitbucket Cloud: OAuth 2.0 authorization code, then REST API 2.0 for the profile.

The stable identity is the account's ``uuid`` (with braces); ``account_id`` is kept too.
The email is the primary address, and only when Bitbucket says it is confirmed.
Scopes are ticked on the OAuth consumer (``account`` and ``email``), not requested;
Bitbucket does not document PKCE, so none is sent.

The editor may restrict sign-in to members of some workspaces ("Allowed workspaces"):
the login then reads the user's workspaces (scope ``account``, already needed for the
profile) and refuses everyone else with
:class:`~cms_social_login.providers.errors.AccessRestricted`.
It asks the newer ``/user/workspaces`` and, when that answers 404, the documented
``/user/permissions/workspaces`` (deprecated under CHANGE-2770 but answering; see
BITBUCKET.md): both list ``workspace.slug``.

Token answers name the granted scopes ``scope`` since May 2026 (``scopes`` before); both
are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from ..i18n import _
from ..origins import url_origin
from .base import OAuth2Provider, Verification
from .errors import ProviderError
from .membership import MembershipRule
from .profile import Email, build_profile, text

#: Pages of ``/user/emails`` followed at most (10 per page by default).
MAX_EMAIL_PAGES = 10
#: Workspaces asked for per page (Bitbucket's largest ``pagelen``).
WORKSPACES_PAGELEN = 100
#: What a visitor reads when a list comes back in a shape we cannot follow.
UNREADABLE = _("Bitbucket sent an answer we could not read. Please try again.")
#: What a visitor outside the allowed workspaces reads.
NOT_A_MEMBER_MESSAGE = _("Your Bitbucket account is not a member of a workspace allowed "
                         "on this site.")
#: "Allowed workspaces": the scope ``account`` (already needed for the profile) lists them.
WORKSPACES = MembershipRule(
    field="allowed_workspaces", label=_("Allowed workspaces"),
    help=_("Optional. Only members of these Bitbucket workspaces may log in: their IDs as "
           "in bitbucket.org/<workspace>, separated by spaces or commas. Leave empty to "
           "let every Bitbucket account log in."),
    name_pattern=r"[a-z0-9_-]+",  # a workspace slug
    pattern_message=_("Type workspace IDs (lowercase letters, digits, - and _) separated "
                      "by spaces or commas."),
    words=_("Members of the workspaces: ${names}"),
    refusal=NOT_A_MEMBER_MESSAGE,
    unavailable=_(
        "Bitbucket could not tell us your workspaces. Please try again in a "
        "moment."),
    source="GET /user/workspaces", noun="workspace(s)",
    max_pages=20)

BITBUCKET_ICON = (
    '<svg viewBox="0 0 32 32" aria-hidden="true" focusable="false" width="20" height="20">'
    '<path fill="currentColor" d="M2 3.2a1 1 0 0 0-1 1.16l4.07 24.7a1.36 1.36 0 0 0 1.33 '
    '1.14h19.54a1 1 0 0 0 1-.84L31 4.36a1 1 0 0 0-1-1.16zm17.15 17.84h-6.24l-1.69-8.82h9.44z"/>'
    "</svg>"
)


class BitbucketProvider(OAuth2Provider):
    """Log in with Bitbucket Cloud."""

    name = "bitbucket"
    title = "Bitbucket"
    domain = "bitbucket.org"
    icon = BITBUCKET_ICON
    default_authorize_url = "https://bitbucket.org/site/oauth2/authorize"
    default_token_url = "https://bitbucket.org/site/oauth2/access_token"
    default_api_url = "https://api.bitbucket.org/2.0"
    scopes = ("account", "email")
    send_scopes = False
    client_auth = "basic"
    #: Private consumers get client-credentials tokens: "Verify credentials" uses that.
    can_verify_credentials = True
    can_use_client_credentials = True
    membership_rule = WORKSPACES
    uses_pkce = False
    client_id_help = _("The Key of your Bitbucket OAuth consumer.")
    client_secret_help = _("The Secret of your Bitbucket OAuth consumer.")
    setup_steps = (
        _("In Bitbucket, open your workspace's Settings, then Apps and features, OAuth "
          "consumers, and choose Add consumer."),
        _("Give the consumer a name and paste ${callback_url} as its Callback URL."),
        _("Under Permissions tick Account: Read and Email. Tick \"This is a private "
          "consumer\" too if you want Verify credentials to check it."),
        _("Save, then copy the consumer's Key into Bitbucket Client ID and its Secret into "
          "Bitbucket Client Secret below."),
    )

    def verify_credentials(self, values: Mapping[str, str]) -> Verification:
        """A client-credentials token (granted to private consumers) proves the pair."""
        return self.verify_by_client_credentials(values)

    def identity_issuer(self, values: Mapping[str, str]) -> str:
        """The origin of the API URL (``cms_social_login.bitbucket.api_url``) the ids come from."""
        return url_origin(self.api_url)

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        access_token = token["access_token"]
        user = self.api_get(f"{self.api_url}/user", access_token)
        uuid = user.get("uuid")
        if not isinstance(uuid, str) or not uuid:
            raise ProviderError(
                _("Bitbucket sent a profile without an account id. Please try again."),
                "GET /user: no uuid in the answer",
            )
        self.check_membership(access_token, values)
        links = user.get("links") or {}
        profile = build_profile(
            domain=self.domain, userid=uuid, username=text(user.get("nickname")),
            display_name=text(user.get("display_name")),
            emails=self.emails(access_token),
            photo=text((links.get("avatar") or {}).get("href")),
            profile_url=text((links.get("html") or {}).get("href")),
            accountId=user.get("account_id"))
        if profile["verifiedEmail"] is None:
            raise ProviderError(
                _("Your Bitbucket account has no confirmed primary email address. Confirm it "
                  "in Bitbucket's personal settings, then try again."),
                "GET /user/emails: no primary confirmed address",
            )
        return profile

    def pages(self, first: dict[str, Any] | None, fetch: Callable[[str], Any]
              ) -> Iterator[dict[str, Any]]:
        """The pages of a paginated list from its ``first`` page on, ``fetch`` -ing the
        ``next`` ones (on the API host only) until a page names none."""
        page = first
        while True:
            if not isinstance(page, dict):
                raise ProviderError(UNREADABLE, "paginated list: a page is missing")
            yield page
            url = page.get("next")
            if not url:
                return
            if not isinstance(url, str) or url_origin(url) != url_origin(self.api_url):
                raise ProviderError(UNREADABLE, "paginated list: next link outside the "
                                                "API host")
            page = fetch(url)

    def emails(self, access_token: str) -> list[Email]:
        """The user's addresses (``/user/emails``, at most :data:`MAX_EMAIL_PAGES` pages)."""
        def read(url: str) -> Any:
            return self.api_get(url, access_token)

        pages = islice(self.pages(read(f"{self.api_url}/user/emails"), read), MAX_EMAIL_PAGES)
        return [Email(e["email"], e.get("is_primary") is True, e.get("is_confirmed") is True)
                for page in pages for e in page.get("values") or ()
                if isinstance(e, dict) and isinstance(e.get("email"), str)]

    def member_pages(self, access_token: str, values: Mapping[str, str]
                     ) -> Iterator[Sequence[str]]:
        """The user's workspaces, a page at a time, from ``/user/workspaces`` or, when that
        answers 404, the documented ``/user/permissions/workspaces``."""
        def read(url: str) -> Any:
            return self.member_list_page(
                url, access_token, "does the consumer have the Account: Read permission?",
                expect=dict)

        query = f"?pagelen={WORKSPACES_PAGELEN}"
        first = read(f"{self.api_url}/user/workspaces{query}")
        if first is None:  # the newer endpoint is not there
            first = read(f"{self.api_url}/user/permissions/workspaces{query}")
        if first is None:
            raise ProviderError(WORKSPACES.unavailable, "GET workspaces: not found")
        for page in self.pages(first, read):
            yield [access["workspace"]["slug"] for access in page.get("values") or ()
                   if isinstance(access, dict) and isinstance(access.get("workspace"), dict)
                   and isinstance(access["workspace"].get("slug"), str)]
