"""Views: public login page, SSO, and the editor's Login setting."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Register the views (imperatively: the editor permission comes from settings)."""
    config.include(".public")
    config.include(".sso")
    config.include(".editor")
    config.include(".history")
    config.include(".account")
    config.include(".undecodable")
