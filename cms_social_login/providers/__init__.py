"""Provider plugins: the base classes, the registry and the shipped providers."""

from .base import Field, FieldError, OAuth2Provider, Provider, Verification
from .registry import ProviderRegistry, add_social_login_provider, get_provider_registry

__all__ = ["Field", "FieldError", "OAuth2Provider", "Provider", "ProviderRegistry",
           "Verification", "add_social_login_provider", "get_provider_registry"]
