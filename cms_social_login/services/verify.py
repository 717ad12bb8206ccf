"""Checking a provider's credentials from the editor's tab, storing nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..http import ProviderError
from ..i18n import _
from ..providers.base import OAuth2Provider, Provider


@dataclass(frozen=True)
class Verification:
    """The answer shown in the tab: ``ok`` True, False, or None (could not tell)."""

    ok: bool | None
    message: str


def can_verify(provider: Provider) -> bool:
    """Whether the tab offers "Verify credentials" for ``provider``."""
    return callable(getattr(provider, "verify_credentials", None)) or (
        isinstance(provider, OAuth2Provider)
        and getattr(provider, "supports_client_credentials", False))


def verify_credentials(provider: Provider, values: Mapping[str, str]) -> Verification:
    """Ask the provider whether ``values`` work.

    A provider may define ``verify_credentials(values) -> Verification`` (an OpenID
    Connect provider fetches its discovery document, say); an OAuth 2.0 provider that
    sets ``supports_client_credentials = True`` is asked for a client-credentials token
    (RFC 6749 4.4), which proves the client id and secret without any user.
    """
    title = {"title": provider.title}
    own = getattr(provider, "verify_credentials", None)
    if callable(own):
        return own(values)
    assert isinstance(provider, OAuth2Provider)
    try:
        response = provider.token_request(values, {"grant_type": "client_credentials"})
    except ProviderError:
        return Verification(None, _("Could not reach ${title}. Check the network and try "
                                    "again; nothing was stored.", mapping=title))
    data = response.data if isinstance(response.data, dict) else {}
    if response.status == 200 and isinstance(data.get("access_token"), str):
        return Verification(True, _("These credentials work: ${title} accepted the key and "
                                    "secret.", mapping=title))
    error = data.get("error")
    if response.status in (400, 401, 403) and error in (
            "unauthorized_client", "invalid_client", "access_denied"):
        return Verification(False, _("${title} refused this key and secret.", mapping=title))
    if error == "unsupported_grant_type":
        return Verification(None, _("${title} does not let this consumer be checked without a "
                                    "user (only private consumers can be); try a login after "
                                    "saving.", mapping=title))
    return Verification(None, _("${title} answered with an error (HTTP ${status}); try again "
                                "in a moment.", mapping={**title, "status": response.status}))
