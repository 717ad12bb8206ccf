"""cms_social_login: editor-configured social login for Pyramid sites.

Turn it on with ``config.include("cms_social_login")``.
"""

from __future__ import annotations

import os
import warnings

# Pyramid 2's pyramid.asset imports setuptools' deprecated pkg_resources. The warning is
# Pyramid's, not the site's, and would open the output of every command
# (cms-social-login-db, ...); so it is silenced before Pyramid is imported (hence the
# imports below this statement), for that one module only: the host's own imports of
# pkg_resources still warn.
# ruff: noqa: E402
warnings.filterwarnings("ignore", message="pkg_resources is deprecated as an API",
                        category=UserWarning, module=r"pyramid\.asset$")
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.events import BeforeRender, BeforeTraversal
from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import ISecurityPolicy, ISessionFactory

from .crypto import TOKEN_PURPOSES, FernetSecretBox
from .events import SocialLoginFailed, SocialLoginSucceeded
from .i18n import add_template_globals, negotiate_on_own_pages
from .interfaces import IProviderRegistry, ISecretBox, IUserAdapter
from .providers.registry import (
    ProviderRegistry,
    add_social_login_provider,
    include_entry_point_providers,
)
from .services.audit import on_login_failed, on_login_succeeded
from .session import CookieSessionFactory
from .settings import SocialLoginSettings, apply_environment
from .users import IdentityUserAdapter

__all__ = ["includeme"]


def set_social_login_user_adapter(config: Configurator, adapter: object) -> None:
    """Use ``adapter`` for local accounts: an ``IUserAdapter``, or a class (or dotted
    name of a class) made with no arguments."""
    adapter = config.maybe_dotted(adapter)
    if isinstance(adapter, type):
        adapter = adapter()

    def register() -> None:
        config.registry.registerUtility(adapter, IUserAdapter)

    intr = config.introspectable("social login user adapter", None, repr(adapter),
                                 "social login user adapter")
    config.action("cms_social_login.user_adapter", register, introspectables=(intr,))


def set_social_login_secret_box(config: Configurator, box: object) -> None:
    """Use ``box`` (an ``ISecretBox``) to encrypt secrets at rest."""
    box = config.maybe_dotted(box)

    def register() -> None:
        config.registry.registerUtility(box, ISecretBox)

    config.action("cms_social_login.secret_box", register)


def _check_security_policy(config: Configurator) -> None:
    def check() -> None:
        if config.registry.queryUtility(ISecurityPolicy) is None:
            raise ConfigurationError(
                "cms_social_login needs a security policy (config.set_security_policy) "
                "that grants the editor permission "
                f"{config.registry.social_login_settings.editor_permission!r} to editors; "
                "without one every visitor could edit the login settings."
            )

    config.action("cms_social_login.check_security", check, order=10)


def _default_unless_host_set(config: Configurator, interface: Any,
                             make: Callable[[], object]) -> None:
    """Register ``make()`` for ``interface`` unless the host registered one, wherever in its
    configuration (``main()`` or one of its includes: no conflict with the add-on)."""

    def register() -> None:
        if config.registry.queryUtility(interface) is None:
            config.registry.registerUtility(make(), interface)

    config.action(None, register, order=1)


def includeme(config: Configurator) -> None:
    """Set the add-on up: settings, database, directives, providers, routes and views."""
    settings = config.get_settings()
    apply_environment(settings)
    typed = SocialLoginSettings.from_settings(settings)
    config.registry.social_login_settings = typed

    config.include("pyramid_jinja2")
    config.include(".models")
    config.include(".sites")
    config.add_jinja2_search_path("cms_social_login:templates", name=".jinja2")

    config.registry.registerUtility(ProviderRegistry(), IProviderRegistry)
    # Wrapped (Pyramid's default): a conflict names the caller's file and line.
    config.add_directive("add_social_login_provider", add_social_login_provider)
    config.add_directive("set_social_login_user_adapter", set_social_login_user_adapter)
    config.add_directive("set_social_login_secret_box", set_social_login_secret_box)

    # Defaults, used where the host's configuration registered none.
    _default_unless_host_set(config, ISecretBox, lambda: FernetSecretBox(typed.secret_keys))
    # The add-on's own short-lived tokens: one derived key per purpose, whatever box the
    # host chose for secrets at rest.
    for purpose in TOKEN_PURPOSES:
        config.registry.registerUtility(FernetSecretBox(typed.secret_keys, purpose=purpose),
                                        ISecretBox, name=purpose)
    _default_unless_host_set(config, IUserAdapter, IdentityUserAdapter)
    _default_unless_host_set(config, ISessionFactory, lambda: CookieSessionFactory(
        typed.secret_keys, typed.session_timeout))
    include_entry_point_providers(config)
    _check_security_policy(config)

    config.add_request_method(
        "cms_social_login.services.published.load_published_document",
        "social_login_published", reify=True)
    # Token storage (off unless cms_social_login.store_tokens): services/tokens.py.
    config.add_subscriber("cms_social_login.services.tokens.store_login_tokens",
                          "cms_social_login.events.SocialLoginSucceeded")
    config.add_request_method("cms_social_login.services.tokens.social_token", "social_token")
    # An absolute path: the package may be loaded by an import hook pkg_resources does
    # not know (pytest's assertion rewriting, for the kit's pytest11 plugin).
    config.add_translation_dirs(os.path.join(os.path.dirname(__file__), "locale"))
    # The add-on's pages choose their language; the host's negotiator stays the host's.
    config.add_subscriber(negotiate_on_own_pages, BeforeTraversal)
    config.add_subscriber(add_template_globals, BeforeRender)
    config.add_subscriber(on_login_succeeded, SocialLoginSucceeded)
    config.add_subscriber(on_login_failed, SocialLoginFailed)
    config.include(".routes")
    config.include(".views")
    config.include(".views.forbidden")
