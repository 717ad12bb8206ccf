"""A small demo CMS that includes cms_social_login: ``pserve development.ini`` runs it."""

from __future__ import annotations

import logging

from pyramid.config import Configurator
from pyramid.router import Router
from pyramid.settings import asbool

log = logging.getLogger(__name__)


def main(global_config: dict, **settings: str) -> Router:
    """The demo site's WSGI application."""
    with Configurator(settings=settings) as config:
        config.include("cms_social_login")
        config.include(".sites")  # site-a.localhost, site-b.localhost: two more sites
        config.include(".models")  # the demo's database and request.dbsession
        # One database, one session: the add-on's tables go through the demo's session.
        config.set_social_login_dbsession(
            "request.dbsession", session_factory=config.registry["dbsession_factory"])
        config.include(".security")
        config.set_social_login_user_adapter(".users.DemoUserAdapter")
        config.include(".views")
        if asbool(config.get_settings().get("cms_demo.setup_database", False)):
            from .bootstrap import setup_database

            setup_database(config.registry)
    return config.make_wsgi_app()
