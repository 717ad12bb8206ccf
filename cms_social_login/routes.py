"""The add-on's routes (names are namespaced ``cms_social_login.*``)."""

from pyramid.config import Configurator

#: Every route of the add-on, by name: its pages choose their own language
#: (:mod:`cms_social_login.i18n`) and its forbidden view (:mod:`.views.forbidden`).
ROUTES = (
    ("cms_social_login.login", "/login"),
    ("cms_social_login.logout", "/logout"),
    ("cms_social_login.logged_out", "/logout/done"),
    ("cms_social_login.start", "/login/{provider}"),
    ("cms_social_login.callback", "/login/{provider}/callback"),
    ("cms_social_login.editor_home", "/editor"),
    ("cms_social_login.editor_system_pages", "/editor/system-pages"),
    ("cms_social_login.editor_login_page", "/editor/system-pages/login"),
    ("cms_social_login.editor_settings", "/editor/system-pages/login/settings"),
    ("cms_social_login.editor_preview", "/editor/system-pages/login/preview"),
    ("cms_social_login.editor_test_login", "/editor/system-pages/login/test-login"),
    ("cms_social_login.editor_test_start", "/editor/system-pages/login/test-login/{provider}"),
    ("cms_social_login.editor_history", "/editor/system-pages/login/history"),
    ("cms_social_login.editor_history_version", "/editor/system-pages/login/history/{version}"),
    ("cms_social_login.editor_audit", "/editor/system-pages/login/audit"),
    ("cms_social_login.connections", "/account/connections"),
)

#: The callback's context is the login's result (velruse's contract: views by context).
OPTIONS = {
    "cms_social_login.callback": {"factory": "cms_social_login.views.sso.login_result",
                                  "use_global_views": True},
}


def includeme(config: Configurator) -> None:
    """Add the public, SSO and editor routes and the static assets."""
    config.add_static_view("_cms_social_login_static", "cms_social_login:static",
                           cache_max_age=3600)
    for name, pattern in ROUTES:
        config.add_route(name, pattern, **OPTIONS.get(name, {}))
