"""GitHub: OAuth 2.0 (an OAuth App), then the REST API for the profile.

The stable identity is the account's numeric ``id`` (as a string): the ``login`` can be
renamed. PKCE (S256) is sent (GitHub supports it since July 2025). The email is the
primary address of ``/user/emails``, and only when GitHub says it is verified. Scopes
``read:user user:email`` are requested at authorize time.

GitHub's token endpoint answers JSON only when asked with ``Accept: application/json``
(our HTTP client always sends it), and reports a bad code or bad client credentials
with HTTP **200** and an ``error`` field, which Authlib reads and :data:`TOKEN_ERRORS`
turns into the usual plain-words errors.

The editor may restrict sign-in to members of some organizations ("Allowed
organizations"): the authorize request then also asks for ``read:org``, and the login
reads ``/user/orgs`` page by page, refusing everyone else with
:class:`~cms_social_login.providers.errors.AccessRestricted`. Pages are asked for by number
(``page=``) on the API host until a short page, the same pages GitHub's ``Link: ...;
rel="next"`` header names (our HTTP client gives the JSON body only). An organization
that restricts OAuth App access is listed only once it has approved the app.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..i18n import _
from ..origins import url_origin
from .base import OAuth2Provider
from .errors import ProviderError
from .membership import MembershipRule, numbered_pages
from .profile import Email, build_profile, text

GITHUB_ICON = (
    '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false" width="20" height="20">'
    '<path fill="currentColor" d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17'
    ".55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15"
    "-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78"
    "-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64"
    "-.18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51"
    ".56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 "
    '0 .21.15.46.55.38A8.013 8.013 0 0016 8c0-4.42-3.58-8-8-8z"/></svg>'
)

#: GitHub's token-endpoint error codes (sent with HTTP 200) -> RFC 6749 codes; a refresh
#: token is refused with ``bad_refresh_token``
#: (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens).
TOKEN_ERRORS = {
    "incorrect_client_credentials": "invalid_client",
    "redirect_uri_mismatch": "invalid_client",
    "bad_verification_code": "invalid_grant",
    "bad_refresh_token": "invalid_grant",
}

#: Addresses asked for at once; an account with more is not expected.
EMAILS_PER_PAGE = 100
#: Organizations asked for per page of ``/user/orgs`` (GitHub's largest ``per_page``).
ORGS_PER_PAGE = 100
#: The scope that lets ``/user/orgs`` list the user's organizations.
ORGS_SCOPE = "read:org"
#: A GitHub login: letters, digits and single hyphens (not first nor last), 1-39 long.
GITHUB_LOGIN = r"(?=[A-Za-z0-9-]{1,39}(?![A-Za-z0-9-]))[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
#: What a visitor outside the allowed organizations reads.
NOT_A_MEMBER_MESSAGE = _("Your GitHub account is not a member of an organization allowed "
                         "on this site.")


#: "Allowed organizations": ``/user/orgs`` lists them with the scope ``read:org``.
ORGANIZATIONS = MembershipRule(
    field="allowed_organizations", label=_("Allowed organizations"),
    help=_("Optional. Only members of these GitHub organizations may log in: their names "
           "as in github.com/<organization>, separated by spaces or commas. GitHub then "
           "asks visitors to also share their organization memberships (read:org). Leave "
           "empty to let every GitHub account log in."),
    name_pattern=GITHUB_LOGIN,
    pattern_message=_("Type organization names (letters, digits and single hyphens, at "
                      "most 39 characters each) separated by spaces or commas."),
    words=_("Members of the organizations: ${names}"),
    refusal=NOT_A_MEMBER_MESSAGE,
    unavailable=_(
        "GitHub could not tell us your organizations. Please try again in a "
        "moment."),
    source="GET /user/orgs", noun="organization(s)",
    scope=ORGS_SCOPE, ignore_case=True)


class GitHubProvider(OAuth2Provider):
    """Log in with GitHub (github.com, or GitHub Enterprise Server through the settings)."""

    name = "github"
    title = "GitHub"
    domain = "github.com"
    icon = GITHUB_ICON
    default_authorize_url = "https://github.com/login/oauth/authorize"
    default_token_url = "https://github.com/login/oauth/access_token"
    default_api_url = "https://api.github.com"
    scopes = ("read:user", "user:email")
    send_scopes = True
    client_auth = "post"
    token_error_codes = TOKEN_ERRORS
    membership_rule = ORGANIZATIONS
    #: GitHub supports PKCE with S256 since July 2025 (and recommends it):
    #: https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication/
    uses_pkce = True
    # GitHub offers no reliable check of an OAuth App's client id and secret without a
    # user, so the base class's verify_credentials ("use Test login") stands.
    setup_steps = (
        _("In GitHub, open Settings, then Developer settings, OAuth Apps, and choose New "
          "OAuth App (for an organization: the organization's Settings, Developer "
          "settings)."),
        _("Fill in the application name and homepage URL, paste ${callback_url} as the "
          "Authorization callback URL, and choose Register application."),
        _("Copy the Client ID into GitHub Client ID, choose Generate a new client secret "
          "and paste it into GitHub Client Secret below."),
        _("There are no permissions to tick at GitHub: visitors are asked to share their "
          "profile and email addresses (read:user, user:email), and their organizations "
          "(read:org) when you fill in Allowed organizations."),
    )

    def identity_issuer(self, values: Mapping[str, str]) -> str:
        """The origin of the API URL (``cms_social_login.github.api_url``) the ids come from."""
        return url_origin(self.api_url)

    def api_headers(self, access_token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        access_token = token["access_token"]
        user = self.api_get(f"{self.api_url}/user", access_token)
        user_id = user.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ProviderError(
                _("GitHub sent a profile without an account id. Please try again."),
                "GET /user: no numeric id in the answer",
            )
        self.check_membership(access_token, values)
        emails = self.api_get(f"{self.api_url}/user/emails?per_page={EMAILS_PER_PAGE}",
                              access_token, expect=list)
        profile = build_profile(
            domain=self.domain, userid=str(user_id), username=text(user.get("login")),
            display_name=text(user.get("name")),
            emails=[Email(e["email"], e.get("primary") is True, e.get("verified") is True)
                    for e in emails if isinstance(e, dict) and isinstance(e.get("email"), str)],
            photo=text(user.get("avatar_url")), profile_url=text(user.get("html_url")))
        if profile["verifiedEmail"] is None:
            raise ProviderError(
                _("Your GitHub account has no verified primary email address. Verify it in "
                  "GitHub's email settings, then try again."),
                "GET /user/emails: no primary verified address",
            )
        return profile

    def member_pages(self, access_token: str, values: Mapping[str, str]
                     ) -> Iterator[Sequence[str]]:
        """The user's organizations, ``/user/orgs`` page by page (``page=1, 2...`` on the
        API host, until a short page)."""
        return numbered_pages(lambda number: self.member_list_page(
            f"{self.api_url}/user/orgs?per_page={ORGS_PER_PAGE}&page={number}", access_token,
            f"was the {ORGS_SCOPE} scope granted?") or [], "login", ORGS_PER_PAGE)
