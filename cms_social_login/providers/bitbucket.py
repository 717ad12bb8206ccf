"""Bitbucket Cloud: OAuth 2.0 authorization code, then REST API 2.0 for the profile.

The stable identity is the account's ``uuid`` (with braces); ``account_id`` is kept too.
The email is the primary address, and only when Bitbucket says it is confirmed.
Scopes are ticked on the OAuth consumer (``account`` and ``email``), not requested;
Bitbucket does not document PKCE, so none is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from ..http import ProviderError
from .base import OAuth2Provider

#: Pages of ``/user/emails`` followed at most (10 per page by default).
MAX_EMAIL_PAGES = 10

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
    uses_pkce = False
    setup_help = (
        "In Bitbucket, open your workspace's Settings, then Apps and features, OAuth "
        "consumers, Add consumer. Paste the callback URL below, tick the Account: Read and "
        "Email permissions, save, then copy the consumer's Key and Secret here."
    )

    def fetch_profile(self, token: Mapping[str, Any], values: Mapping[str, str]
                      ) -> dict[str, Any]:
        access_token = token["access_token"]
        user = self.api_get(f"{self.api_url}/user", access_token)
        uuid = user.get("uuid")
        if not isinstance(uuid, str) or not uuid:
            raise ProviderError(
                "Bitbucket sent a profile without an account id. Please try again.",
                "GET /user: no uuid in the answer",
            )
        emails = self.fetch_emails(access_token)
        verified = next((e["email"] for e in emails
                         if e.get("is_primary") and e.get("is_confirmed")
                         and isinstance(e.get("email"), str)), None)
        if verified is None:
            raise ProviderError(
                "Your Bitbucket account has no confirmed primary email address. Confirm it "
                "in Bitbucket's personal settings, then try again.",
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
        for _ in range(MAX_EMAIL_PAGES):
            page = self.api_get(url, access_token)
            emails.extend(v for v in page.get("values") or () if isinstance(v, dict))
            url = page.get("next")
            if not url:
                return emails
            if not isinstance(url, str) or urlparse(url)[:2] != api_origin:
                raise ProviderError(
                    "Bitbucket sent an answer we could not read. Please try again.",
                    "GET /user/emails: next link outside the API host",
                )
        return emails
