"""Log in with Acme ID: an example provider plugin for cms_social_login."""

from .provider import AcmeIDProvider

__all__ = ["AcmeIDProvider"]
