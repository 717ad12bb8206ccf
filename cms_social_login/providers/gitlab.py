"""GitLab (gitlab.com or a self-hosted instance): OAuth 2.0 with PKCE, then API v4.

The editor may give the base URL of a self-hosted GitLab in the tab (``GitLab URL``);
empty means gitlab.com, whose endpoints the settings ``cms_social_login.gitlab.
authorize_url`` / ``token_url`` / ``api_url`` may still move. The stable identity is the
account's numeric ``id`` (as a string). ``/api/v4/user`` gives the primary ``email``
with the ``read_user`` scope; it counts as verified only when ``confirmed_at`` is set.

The editor may restrict sign-in to members of some groups ("Allowed groups", full paths
such as ``acme`` or ``acme/platform``): the authorize request then also asks for
``read_api`` (``read_user`` does not list groups), and the login reads
``/api/v4/groups?min_access_level=10`` page by page (``page=`` numbers on the API host
until a short page, the pages GitLab's ``X-Next-Page`` header names). A member of an
allowed group or of one of its subgroups may log in; everyone else is refused with
:class:`~cms_social_login.http.AccessRestricted`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..i18n import _
from ..origins import url_origin
from .base import (
    Field,
    OAuth2Provider,
    Verification,
    first_listed_member,
    url_field_error,
)
from .errors import ProviderError

GITLAB_ICON = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" width="20" height="20">'
    '<path fill="currentColor" d="m23.6 9.6-.03-.09L20.3.98a.85.85 0 0 0-.34-.4.87.87 0 0 0-1 '
    ".05.87.87 0 0 0-.29.44l-2.2 6.75H7.54L5.34 1.07a.85.85 0 0 0-.29-.44.87.87 0 0 0-1-.05.86"
    ".86 0 0 0-.34.4L.44 9.5l-.03.09a6.07 6.07 0 0 0 2.01 7.01l.01.01.03.02 4.98 3.73 2.46 1.86"
    " 1.5 1.13a1 1 0 0 0 1.22 0l1.5-1.13 2.46-1.86 5.01-3.75.01-.01a6.07 6.07 0 0 0 2-7.01z\"/>"
    "</svg>"
)

#: Groups asked for per page of ``/groups`` (GitLab's largest ``per_page``).
GROUPS_PER_PAGE = 100
#: Pages of ``/groups`` read at most.
MAX_GROUP_PAGES = 10
#: The scope that lets ``/api/v4/groups`` list the user's groups.
GROUPS_SCOPE = "read_api"
#: ``min_access_level`` of the groups query: Guest (10), i.e. any membership.
GUEST_ACCESS_LEVEL = 10
#: A group's full path: ``/``-separated parts of letters, digits, ``_``, ``-`` and ``.``.
GROUP_PATH = r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*"
#: The "Allowed groups" field: full paths separated by spaces and/or commas.
GROUP_LIST_PATTERN = rf"[ ,]*{GROUP_PATH}(?:[ ,]+{GROUP_PATH})*[ ,]*"
#: What a visitor outside the allowed groups reads.
NOT_A_MEMBER_MESSAGE = _("Your GitLab account is not a member of a group allowed on this "
                         "site.")


def parse_groups(value: str | None) -> tuple[str, ...]:
    """The group full paths of an "Allowed groups" value, lowercased, in order, without
    repeats (GitLab paths are case-insensitive).

    Empty (or absent) means no restriction.
    """
    paths: list[str] = []
    for path in re.split(r"[\s,]+", (value or "").lower()):
        if path and path not in paths:
            paths.append(path)
    return tuple(paths)


def allowed_group(full_path: str, allowed: Sequence[str]) -> str | None:
    """The entry of ``allowed`` (lowercase paths) that ``full_path`` is, or is a subgroup
    of; None when there is none."""
    path = full_path.lower()
    return next((group for group in allowed
                 if path == group or path.startswith(group + "/")), None)


class GitLabProvider(OAuth2Provider):
    """Log in with GitLab: gitlab.com, or the self-hosted GitLab named in the tab."""

    name = "gitlab"
    title = "GitLab"
    domain = "gitlab.com"
    icon = GITLAB_ICON
    default_authorize_url = "https://gitlab.com/oauth/authorize"
    default_token_url = "https://gitlab.com/oauth/token"
    default_api_url = "https://gitlab.com/api/v4"
    scopes = ("read_user",)
    send_scopes = True
    client_auth = "post"
    uses_pkce = True
    endpoint_fields = ("base_url",)
    #: GitLab authenticates the client before it looks at the code (RFC 6749 5.2).
    can_verify_credentials = True
    setup_steps = (
        _("In GitLab, open your avatar's Edit profile, then Applications, and choose Add "
          "new application (on a self-hosted GitLab an administrator may use Admin Area, "
          "Applications)."),
        _("Paste ${callback_url} as the Redirect URI and keep Confidential ticked."),
        _("Tick the read_user scope (and read_api too if you fill in Allowed groups), then "
          "choose Save application."),
        _("Copy the Application ID into GitLab Client ID and the Secret into GitLab Client "
          "Secret below; for a self-hosted GitLab fill in GitLab URL as well."),
    )

    def verify_credentials(self, values: Mapping[str, str]) -> Verification:
        """A made-up code at the token endpoint: invalid_client or invalid_grant."""
        return self.verify_by_token_endpoint(values)

    def access_rule(self, values: Mapping[str, str]) -> str | None:
        allowed = parse_groups(values.get("allowed_groups"))
        return _("Members of the groups (or their subgroups): ${names}",
                 mapping={"names": ", ".join(allowed)}) if allowed else None

    def extra_fields(self) -> Sequence[Field]:
        return (
            Field("base_url", "GitLab URL", max_length=200,
                  help="Only for a self-hosted GitLab, e.g. https://gitlab.example.com; "
                       "leave empty for gitlab.com."),
            Field("allowed_groups", _("Allowed groups"), max_length=2000,
                  help=_("Optional. Only members of these GitLab groups (or of their "
                         "subgroups) may log in: their full paths as in "
                         "gitlab.com/<group>, e.g. acme or acme/platform, separated by "
                         "spaces or commas. Tick the read_api scope of the application too. "
                         "Leave empty to let every GitLab account log in."),
                  pattern=GROUP_LIST_PATTERN,
                  pattern_message=_("Type group paths (letters, digits, _, -, . and /) "
                                    "separated by spaces or commas.")),
        )

    def authorize_params(self, values: Mapping[str, str], state: str, redirect_uri: str,
                         code_verifier: str | None, nonce: str | None) -> dict[str, str]:
        """The usual query, with ``read_api`` added when groups are restricted."""
        params = super().authorize_params(values, state, redirect_uri, code_verifier, nonce)
        if parse_groups(values.get("allowed_groups")):
            params["scope"] = " ".join((*self.scopes, GROUPS_SCOPE))
        return params

    def validate(self, values: Mapping[str, str]) -> dict[str, str]:
        base_url = values.get("base_url") or ""
        error = url_field_error(base_url, "GitLab URL", self.url_policy) if base_url \
            else None
        return {"base_url": error} if error else {}

    def identity_issuer(self, values: Mapping[str, str]) -> str:
        """The tab's GitLab URL, else the origin of the API URL (gitlab.com)."""
        return self.base_url(values) or url_origin(self.api_url)

    def base_url(self, values: Mapping[str, str]) -> str | None:
        """The self-hosted GitLab of the tab, without a trailing slash (None: gitlab.com)."""
        return (values.get("base_url") or "").rstrip("/") or None

    def authorize_endpoint(self, values: Mapping[str, str]) -> str:
        base = self.base_url(values)
        return f"{base}/oauth/authorize" if base else self.authorize_url

    def token_endpoint(self, values: Mapping[str, str]) -> str:
        base = self.base_url(values)
        return f"{base}/oauth/token" if base else self.token_url

    def api_endpoint(self, values: Mapping[str, str]) -> str:
        """The API v4 root for the editor's ``values``."""
        base = self.base_url(values)
        return f"{base}/api/v4" if base else self.api_url

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        user = self.api_get(f"{self.api_endpoint(values)}/user", token["access_token"])
        user_id = user.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ProviderError(
                _("GitLab sent a profile without an account id. Please try again."),
                "GET /api/v4/user: no numeric id in the answer",
            )
        allowed = parse_groups(values.get("allowed_groups"))
        if allowed:
            self.check_groups(token["access_token"], allowed, values)
        username = user.get("username") if isinstance(user.get("username"), str) else None
        email = user.get("email") if isinstance(user.get("email"), str) else None
        verified = email if email and user.get("confirmed_at") else None
        display_name = user.get("name") or username or email or str(user_id)
        base = self.base_url(values)
        domain = (urlsplit(base).hostname or self.domain) if base else self.domain
        profile: dict[str, Any] = {
            "accounts": [{"domain": domain, "userid": str(user_id), "username": username}],
            "displayName": display_name,
            "preferredUsername": username,
            "name": {"formatted": display_name},
            "emails": [{"value": email, "primary": True, "verified": bool(verified)}]
            if email else [],
            "verifiedEmail": verified,
        }
        if isinstance(user.get("avatar_url"), str):
            profile["photos"] = [{"value": user["avatar_url"]}]
        if isinstance(user.get("web_url"), str):
            profile["urls"] = [{"type": "profile", "value": user["web_url"]}]
        return profile

    def check_groups(self, access_token: str, allowed: Sequence[str],
                     values: Mapping[str, str]) -> str:
        """The full path of the first group the token's user belongs to that is in
        ``allowed`` (lowercase full paths) or a subgroup of one of them.

        Reads ``/api/v4/groups?min_access_level=10`` page by page (``page=1, 2...`` on the
        API of ``values``, stopping at the first match or a short page, at most
        :data:`MAX_GROUP_PAGES`). :class:`AccessRestricted` when there is none;
        :class:`ProviderError` when GitLab does not answer properly.
        """
        wanted = tuple(group.lower() for group in allowed)
        return first_listed_member(
            lambda number: self._groups_page(number, access_token, values), "full_path",
            lambda full_path: allowed_group(full_path, wanted), per_page=GROUPS_PER_PAGE,
            max_pages=MAX_GROUP_PAGES, refusal=NOT_A_MEMBER_MESSAGE,
            what="GET /api/v4/groups", noun="group(s) (with subgroups)", allowed=len(wanted))

    def _groups_page(self, page_number: int, access_token: str,
                     values: Mapping[str, str]) -> list[Any]:
        url = (f"{self.api_endpoint(values)}/groups?min_access_level={GUEST_ACCESS_LEVEL}"
               f"&per_page={GROUPS_PER_PAGE}&page={page_number}")
        response = self.http.request_json("GET", url, headers=self.api_headers(access_token))
        if response.status == 200 and isinstance(response.data, list):
            return response.data
        if response.status == 403:
            # The token lacks ``read_api``: the application does not have the scope.
            raise ProviderError(
                _("${title} login is not set up correctly on this site. Please tell the "
                  "site's editors.", mapping={"title": self.title}),
                f"GET /api/v4/groups: refused (does the application have the "
                f"{GROUPS_SCOPE} scope?)",
            )
        raise ProviderError(
            _("GitLab could not tell us your groups. Please try again in a moment."),
            "GET /api/v4/groups: the server answered with an error",
        )
