from pyramid.config import Configurator

from .security import SecurityPolicy
from .users import UserAdapter


def main(global_config, **settings):
    """Return the project's WSGI application."""
    with Configurator(settings=settings) as config:
        config.include("pyramid_jinja2")
        config.include(".routes")
        config.include(".models")
        config.include("cms_social_login")
        config.set_social_login_dbsession("request.dbsession")
        config.set_security_policy(SecurityPolicy())
        config.set_social_login_user_adapter(UserAdapter)
        config.scan()
    return config.make_wsgi_app()
