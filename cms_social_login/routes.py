"""The add-on's routes (names are namespaced ``cms_social_login.*``)."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Add the public, SSO and editor routes and the static assets."""
    config.add_static_view("_cms_social_login_static", "cms_social_login:static",
                           cache_max_age=3600)
    config.add_route("cms_social_login.login", "/login")
    config.add_route("cms_social_login.logout", "/logout")
    config.add_route("cms_social_login.logged_out", "/logout/done")
    config.add_route("cms_social_login.start", "/login/{provider}")
    config.add_route("cms_social_login.callback", "/login/{provider}/callback")
    config.add_route("cms_social_login.editor_home", "/editor")
    config.add_route("cms_social_login.editor_system_pages", "/editor/system-pages")
    config.add_route("cms_social_login.editor_login_page", "/editor/system-pages/login")
    config.add_route("cms_social_login.editor_settings", "/editor/system-pages/login/settings")
    config.add_route("cms_social_login.editor_preview", "/editor/system-pages/login/preview")
    config.add_route("cms_social_login.editor_test_login",
                     "/editor/system-pages/login/test-login")
    config.add_route("cms_social_login.editor_test_start",
                     "/editor/system-pages/login/test-login/{provider}")
    config.add_route("cms_social_login.editor_history", "/editor/system-pages/login/history")
    config.add_route("cms_social_login.editor_history_version",
                     "/editor/system-pages/login/history/{version}")
    config.add_route("cms_social_login.editor_audit", "/editor/system-pages/login/audit")
    config.add_route("cms_social_login.connections", "/account/connections")
