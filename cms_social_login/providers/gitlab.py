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
:class:`~cms_social_login.providers.errors.AccessRestricted`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..i18n import _
from ..origins import url_origin
from .base import Field, OAuth2Provider, Verification, url_field_error
from .errors import ProviderError
from .membership import MembershipRule, numbered_pages
from .profile import Email, build_profile, text

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
#: The scope that lets ``/api/v4/groups`` list the user's groups.
GROUPS_SCOPE = "read_api"
#: ``min_access_level`` of the groups query: Guest (10), i.e. any membership.
GUEST_ACCESS_LEVEL = 10
#: What a visitor outside the allowed groups reads.
NOT_A_MEMBER_MESSAGE = _("Your GitLab account is not a member of a group allowed on this "
                         "site.")


#: "Allowed groups": ``/groups`` lists them with the scope ``read_api``; a member of a
#: subgroup counts as a member of the group.
GROUPS = MembershipRule(
    field="allowed_groups", label=_("Allowed groups"),
    help=_("Optional. Only members of these GitLab groups (or of their subgroups) may log "
           "in: their full paths as in gitlab.com/<group>, e.g. acme or acme/platform, "
           "separated by spaces or commas. Tick the read_api scope of the application "
           "too. Leave empty to let every GitLab account log in."),
    name_pattern=r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*",  # a group's full path
    pattern_message=_("Type group paths (letters, digits, _, -, . and /) separated by "
                      "spaces or commas."),
    words=_("Members of the groups (or their subgroups): ${names}"),
    refusal=NOT_A_MEMBER_MESSAGE,
    unavailable=_(
        "GitLab could not tell us your groups. Please try again in a "
        "moment."),
    source="GET /api/v4/groups",
    noun="group(s) (with subgroups)", scope=GROUPS_SCOPE, ignore_case=True, subgroups=True)


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
    membership_rule = GROUPS
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

    def extra_fields(self) -> Sequence[Field]:
        return (
            Field("base_url", "GitLab URL", max_length=200,
                  help="Only for a self-hosted GitLab, e.g. https://gitlab.example.com; "
                       "leave empty for gitlab.com."),
        )

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
        self.check_membership(token["access_token"], values)
        email = text(user.get("email"))
        base = self.base_url(values)
        return build_profile(
            domain=(urlsplit(base).hostname or self.domain) if base else self.domain,
            userid=str(user_id), username=text(user.get("username")),
            display_name=text(user.get("name")),
            emails=[Email(email, True, bool(user.get("confirmed_at")))] if email else [],
            photo=text(user.get("avatar_url")), profile_url=text(user.get("web_url")))

    def member_pages(self, access_token: str, values: Mapping[str, str]
                     ) -> Iterator[Sequence[str]]:
        """The user's groups, ``/api/v4/groups?min_access_level=10`` page by page
        (``page=1, 2...`` on the API of ``values``, until a short page)."""
        return numbered_pages(lambda number: self.member_list_page(
            f"{self.api_endpoint(values)}/groups?min_access_level={GUEST_ACCESS_LEVEL}"
            f"&per_page={GROUPS_PER_PAGE}&page={number}", access_token,
            f"does the application have the {GROUPS_SCOPE} scope?") or [], "full_path",
            GROUPS_PER_PAGE)
