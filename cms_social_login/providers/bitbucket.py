"""Bitbucket Cloud: OAuth 2.0 authorization code, then REST API 2.0 for the profile.

The stable identity is the account's ``uuid`` (with braces); ``account_id`` is kept too.
The email is the primary address, and only when Bitbucket says it is confirmed.
Scopes are ticked on the OAuth consumer (``account`` and ``email``), not requested;
Bitbucket does not document PKCE, so none is sent.

The editor may restrict sign-in to members of some workspaces ("Allowed workspaces"):
the login then reads the user's workspaces (scope ``account``, already needed for the
profile) and refuses everyone else with :class:`~cms_social_login.http.AccessRestricted`.
It asks the newer ``/user/workspaces`` and, when that answers 404, the documented
``/user/permissions/workspaces`` (deprecated under CHANGE-2770 but answering; see
BITBUCKET.md): both list ``workspace.slug``.

Token answers name the granted scopes ``scope`` since May 2026 (``scopes`` before); both
are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from ..i18n import _
from ..origins import url_origin
from .base import Field, OAuth2Provider, Verification
from .errors import AccessRestricted, ProviderError

#: Pages of ``/user/emails`` followed at most (10 per page by default).
MAX_EMAIL_PAGES = 10
#: Pages of ``/user/workspaces`` followed at most, of :data:`WORKSPACES_PAGELEN` each.
MAX_WORKSPACE_PAGES = 20
#: Workspaces asked for per page (Bitbucket's largest ``pagelen``).
WORKSPACES_PAGELEN = 100
#: A workspace slug: lowercase letters, digits, ``-`` and ``_``.
WORKSPACE_SLUG = r"[a-z0-9_-]+"
#: The "Allowed workspaces" field: slugs separated by spaces and/or commas.
WORKSPACE_LIST_PATTERN = rf"[ ,]*{WORKSPACE_SLUG}(?:[ ,]+{WORKSPACE_SLUG})*[ ,]*"
#: What a visitor outside the allowed workspaces reads.
NOT_A_MEMBER_MESSAGE = _("Your Bitbucket account is not a member of a workspace allowed "
                         "on this site.")


def parse_workspaces(value: str | None) -> tuple[str, ...]:
    """The workspace slugs of an "Allowed workspaces" value, in order, without repeats.

    Empty (or absent) means no restriction.
    """
    slugs: list[str] = []
    for slug in re.split(r"[\s,]+", value or ""):
        if slug and slug not in slugs:
            slugs.append(slug)
    return tuple(slugs)

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

    def access_rule(self, values: Mapping[str, str]) -> str | None:
        allowed = parse_workspaces(values.get("allowed_workspaces"))
        return _("Members of the workspaces: ${names}",
                 mapping={"names": ", ".join(allowed)}) if allowed else None

    def identity_issuer(self, values: Mapping[str, str]) -> str:
        """The origin of the API URL (``cms_social_login.bitbucket.api_url``) the ids come from."""
        return url_origin(self.api_url)

    def extra_fields(self) -> Sequence[Field]:
        """The optional "Allowed workspaces" restriction."""
        return (
            Field("allowed_workspaces", _("Allowed workspaces"), max_length=2000,
                  help=_("Optional. Only members of these Bitbucket workspaces may log in: "
                         "their IDs as in bitbucket.org/<workspace>, separated by spaces or "
                         "commas. Leave empty to let every Bitbucket account log in."),
                  pattern=WORKSPACE_LIST_PATTERN,
                  pattern_message=_("Type workspace IDs (lowercase letters, digits, - and _) "
                                    "separated by spaces or commas.")),
        )

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
        allowed = parse_workspaces(values.get("allowed_workspaces"))
        if allowed:
            self.check_workspaces(access_token, allowed)
        emails = self.fetch_emails(access_token)
        verified = next((e["email"] for e in emails
                         if e.get("is_primary") and e.get("is_confirmed")
                         and isinstance(e.get("email"), str)), None)
        if verified is None:
            raise ProviderError(
                _("Your Bitbucket account has no confirmed primary email address. Confirm it "
                  "in Bitbucket's personal settings, then try again."),
                "GET /user/emails: no primary confirmed address",
            )
        links = user.get("links") or {}
        nickname = user.get("nickname") if isinstance(user.get("nickname"), str) else None
        display_name = user.get("display_name") or nickname or verified
        profile: dict[str, Any] = {
            "accounts": [{"domain": self.domain, "userid": uuid, "username": nickname}],
            "displayName": display_name,
            "preferredUsername": nickname,
            "name": {"formatted": display_name},
            "emails": [{"value": e["email"], "primary": bool(e.get("is_primary")),
                        "verified": bool(e.get("is_confirmed"))}
                       for e in emails if isinstance(e.get("email"), str)],
            "verifiedEmail": verified,
            "accountId": user.get("account_id"),
        }
        avatar = (links.get("avatar") or {}).get("href")
        if avatar:
            profile["photos"] = [{"value": avatar}]
        html = (links.get("html") or {}).get("href")
        if html:
            profile["urls"] = [{"type": "profile", "value": html}]
        return profile

    def fetch_emails(self, access_token: str) -> list[dict[str, Any]]:
        """All of the user's addresses, following ``next`` on the same API host."""
        url: str | None = f"{self.api_url}/user/emails"
        api_origin = urlparse(self.api_url)[:2]
        emails: list[dict[str, Any]] = []
        for _page in range(MAX_EMAIL_PAGES):
            page = self.api_get(url, access_token)
            emails.extend(v for v in page.get("values") or () if isinstance(v, dict))
            url = page.get("next")
            if not url:
                return emails
            if not isinstance(url, str) or urlparse(url)[:2] != api_origin:
                raise ProviderError(
                    _("Bitbucket sent an answer we could not read. Please try again."),
                    "GET /user/emails: next link outside the API host",
                )
        return emails

    def check_workspaces(self, access_token: str, allowed: Sequence[str]) -> str:
        """The first of ``allowed`` that the token's user belongs to.

        Reads ``/user/workspaces`` (or, when that is a 404, the documented
        ``/user/permissions/workspaces``) page by page, stopping at the first match and
        following ``next`` on the API host only. :class:`AccessRestricted` when the user belongs to
        none of them; :class:`ProviderError` when Bitbucket does not answer properly.
        """
        wanted = set(allowed)
        url: str | None = f"{self.api_url}/user/workspaces?pagelen={WORKSPACES_PAGELEN}"
        api_origin = urlparse(self.api_url)[:2]
        seen = 0
        for page_number in range(MAX_WORKSPACE_PAGES):
            page = self._workspaces_page(url, access_token)
            if page is None and page_number == 0:  # the newer endpoint is not there
                url = f"{self.api_url}/user/permissions/workspaces?pagelen={WORKSPACES_PAGELEN}"
                page = self._workspaces_page(url, access_token)
            if page is None:
                raise ProviderError(
                    _("Bitbucket could not tell us your workspaces. Please try again in a "
                      "moment."), "GET workspaces: not found")
            for access in page.get("values") or ():
                workspace = access.get("workspace") if isinstance(access, dict) else None
                slug = workspace.get("slug") if isinstance(workspace, dict) else None
                if isinstance(slug, str):
                    seen += 1
                    if slug in wanted:
                        return slug
            url = page.get("next")
            if not url:
                break
            if not isinstance(url, str) or urlparse(url)[:2] != api_origin:
                raise ProviderError(
                    _("Bitbucket sent an answer we could not read. Please try again."),
                    "GET /user/workspaces: next link outside the API host",
                )
        else:
            raise AccessRestricted(
                NOT_A_MEMBER_MESSAGE,
                f"GET /user/workspaces: none of {len(wanted)} allowed workspace(s) in the "
                f"first {seen} listed (stopped after {MAX_WORKSPACE_PAGES} pages)",
            )
        raise AccessRestricted(
            NOT_A_MEMBER_MESSAGE,
            f"GET /user/workspaces: member of {seen} workspace(s), none of the "
            f"{len(wanted)} allowed",
        )

    def _workspaces_page(self, url: str, access_token: str) -> dict[str, Any] | None:
        """A page of a membership list; None when the endpoint answers 404."""
        response = self.http.request_json(
            "GET", url, headers={"Authorization": f"Bearer {access_token}"})
        if response.status == 200 and isinstance(response.data, dict):
            return response.data
        if response.status == 404:
            return None
        if response.status == 403:
            # The consumer lacks the Account permission (scope ``account``).
            raise ProviderError(
                "Bitbucket login is not set up correctly on this site. "
                "Please tell the site's editors.",
                "GET workspaces: refused (does the consumer have the Account: Read "
                "permission?)",
            )
        raise ProviderError(
            _("Bitbucket could not tell us your workspaces. Please try again in a moment."),
            "GET workspaces: the server answered with an error",
        )
