"""Provider plugins: the provider API 1.0 (base classes, login context, profile builder,
membership rule, errors), the registry and the shipped providers.

The names below are loaded on first use, so that :mod:`cms_social_login.http` can raise
the provider API's errors (:mod:`.errors`) without importing the base classes, which use
the HTTP client.
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "Field": ".base", "FieldError": ".base", "LoginContext": ".base",
    "OAuth2Provider": ".base", "Provider": ".base", "Verification": ".base",
    "Email": ".profile", "build_profile": ".profile",
    "MembershipRule": ".membership", "numbered_pages": ".membership",
    "TokenEndpointError": ".oauth2_client",
    "AccessRestricted": ".errors", "ProviderBusy": ".errors", "ProviderError": ".errors",
    "RefreshTokenRejected": ".errors",
    "ProviderRegistry": ".registry", "add_social_login_provider": ".registry",
    "get_provider_registry": ".registry",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home, __name__), name)
