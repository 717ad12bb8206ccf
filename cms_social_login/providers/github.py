"""GitHub: OAuth 2.0 (an OAuth App), then the REST API for the profile.

The stable identity is the account's numeric ``id`` (as a string): the ``login`` can be
renamed. The email is the primary address of ``/user/emails``, and only when GitHub says
it is verified. Scopes ``read:user user:email`` are requested at authorize time.

GitHub's token endpoint answers JSON only when asked with ``Accept: application/json``
(our HTTP client always sends it), and reports a bad code or bad client credentials
with HTTP **200** and an ``error`` field, which :meth:`GitHubProvider.read_token_response`
turns into the usual plain-words errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..http import HttpResponse, ProviderError
from ..i18n import _
from .base import OAuth2Provider

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

#: GitHub's token-endpoint error codes (sent with HTTP 200) -> RFC 6749 codes.
TOKEN_ERRORS = {
    "incorrect_client_credentials": "invalid_client",
    "redirect_uri_mismatch": "invalid_client",
    "bad_verification_code": "invalid_grant",
}

#: Addresses asked for at once; an account with more is not expected.
EMAILS_PER_PAGE = 100


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
    uses_pkce = False
    setup_help = _(
        "In GitHub, open Settings, then Developer settings, OAuth Apps, New OAuth App. "
        "Paste the callback URL below as the Authorization callback URL, register the app, "
        "then copy its Client ID and generate a Client secret to paste here."
    )

    def read_token_response(self, response: HttpResponse) -> dict[str, Any]:
        data = response.data
        if response.status == 200 and isinstance(data, dict) \
                and isinstance(data.get("error"), str) and "access_token" not in data:
            error = TOKEN_ERRORS.get(data["error"], data["error"])
            status = 401 if error == "invalid_client" else 400
            response = HttpResponse(status=status, data={"error": error}, url=response.url)
        return super().read_token_response(response)

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
        emails = [e for e in self.api_get(f"{self.api_url}/user/emails?per_page="
                                          f"{EMAILS_PER_PAGE}", access_token, expect=list)
                  if isinstance(e, dict) and isinstance(e.get("email"), str)]
        verified = next((e["email"] for e in emails
                         if e.get("primary") is True and e.get("verified") is True), None)
        if verified is None:
            raise ProviderError(
                _("Your GitHub account has no verified primary email address. Verify it in "
                  "GitHub's email settings, then try again."),
                "GET /user/emails: no primary verified address",
            )
        login = user.get("login") if isinstance(user.get("login"), str) else None
        display_name = user.get("name") or login or verified
        profile: dict[str, Any] = {
            "accounts": [{"domain": self.domain, "userid": str(user_id), "username": login}],
            "displayName": display_name,
            "preferredUsername": login,
            "name": {"formatted": display_name},
            "emails": [{"value": e["email"], "primary": e.get("primary") is True,
                        "verified": e.get("verified") is True} for e in emails],
            "verifiedEmail": verified,
        }
        if isinstance(user.get("avatar_url"), str):
            profile["photos"] = [{"value": user["avatar_url"]}]
        if isinstance(user.get("html_url"), str):
            profile["urls"] = [{"type": "profile", "value": user["html_url"]}]
        return profile
