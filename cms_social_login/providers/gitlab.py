"""GitLab (gitlab.com or a self-hosted instance): OAuth 2.0 with PKCE, then API v4.

The editor may give the base URL of a self-hosted GitLab in the tab (``GitLab URL``);
empty means gitlab.com, whose endpoints the settings ``cms_social_login.gitlab.
authorize_url`` / ``token_url`` / ``api_url`` may still move. The stable identity is the
account's numeric ``id`` (as a string). ``/api/v4/user`` gives the primary ``email``
with the ``read_user`` scope; it counts as verified only when ``confirmed_at`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..http import ProviderError
from ..i18n import _
from .base import Field, OAuth2Provider, url_field_error

GITLAB_ICON = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" width="20" height="20">'
    '<path fill="currentColor" d="m23.6 9.6-.03-.09L20.3.98a.85.85 0 0 0-.34-.4.87.87 0 0 0-1 '
    ".05.87.87 0 0 0-.29.44l-2.2 6.75H7.54L5.34 1.07a.85.85 0 0 0-.29-.44.87.87 0 0 0-1-.05.86"
    ".86 0 0 0-.34.4L.44 9.5l-.03.09a6.07 6.07 0 0 0 2.01 7.01l.01.01.03.02 4.98 3.73 2.46 1.86"
    " 1.5 1.13a1 1 0 0 0 1.22 0l1.5-1.13 2.46-1.86 5.01-3.75.01-.01a6.07 6.07 0 0 0 2-7.01z\"/>"
    "</svg>"
)


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
    setup_help = _(
        "In GitLab, open your avatar's Edit profile, then Applications, Add new application "
        "(on a self-hosted GitLab an administrator may use Admin Area, Applications). Paste "
        "the callback URL below as the Redirect URI, keep it Confidential, tick the read_user "
        "scope, save, then copy the Application ID and the Secret here."
    )

    def extra_fields(self) -> Sequence[Field]:
        return (
            Field("base_url", "GitLab URL", max_length=200,
                  help="Only for a self-hosted GitLab, e.g. https://gitlab.example.com; "
                       "leave empty for gitlab.com."),
        )

    def validate(self, values: Mapping[str, str]) -> dict[str, str]:
        base_url = values.get("base_url") or ""
        error = url_field_error(base_url, "GitLab URL") if base_url else None
        return {"base_url": error} if error else {}

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
