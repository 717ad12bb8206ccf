"""The provider API hooks and the kit's pytest plugin."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from pyramid.config import Configurator

from cms_social_login.providers.base import Provider
from cms_social_login.providers.github import GitHubProvider
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.testing.plugin import KIT_SECRET_KEY


def test_the_plugin_is_published_as_a_pytest11_entry_point(request):
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("cms_social_login") == "cms_social_login.testing.plugin"
    assert request.config.pluginmanager.has_plugin("cms_social_login")


def test_the_fixture_names_do_not_clash_with_a_hosts_own(request):
    from cms_social_login.testing import plugin

    ours = {name for name in dir(plugin)
            if hasattr(getattr(plugin, name), "_fixture_function_marker")
            or type(getattr(plugin, name)).__name__ == "FixtureFunctionDefinition"}
    assert "social_login_app" in ours and "oidc_emulator" in ours
    assert not ours & {"app", "app_settings", "bitbucket", "bitbucket_server", "editor",
                       "visitor", "make_browser", "database_url", "bitbucket_user"}


def test_the_providers_come_from_entry_points():
    names = {e.name: e.value for e in entry_points(group="cms_social_login.providers")}
    assert {"bitbucket", "github", "gitlab", "oidc"} <= set(names)


class Minimal(Provider):
    """A provider whose factory takes no title (the API before titles)."""

    name = "minimal"
    title = "Minimal"

    def __init__(self, settings, name=None):
        super().__init__(settings, name)


def make_config(**settings):
    config = Configurator(settings={
        "cms_social_login.secret_key": KIT_SECRET_KEY,
        "cms_social_login.providers": "minimal ghe github bitbucket",
        "sqlalchemy.url": "sqlite://", **settings})
    config.include("cms_social_login")
    config.set_security_policy(object())
    return config


def test_the_directive_names_and_titles_an_instance():
    config = make_config(**{"cms_social_login.bitbucket.title": "Bitbucket Cloud"})
    config.add_social_login_provider(GitHubProvider, name="ghe", title="GitHub Enterprise")
    config.add_social_login_provider(Minimal)
    config.commit()
    registry = get_provider_registry(config.registry)
    ghe = registry.get("ghe")
    assert ghe.title == "GitHub Enterprise" and ghe.field("client_id").label == \
        "GitHub Enterprise Client ID"
    assert registry.get("github").title == "GitHub"
    assert registry.get("bitbucket").title == "Bitbucket Cloud"
    assert registry.get("minimal").title == "Minimal"


def test_a_title_for_a_factory_without_one_fails_loudly():
    config = make_config()
    config.add_social_login_provider(Minimal, title="Renamed")
    with pytest.raises(Exception, match="title"):
        config.commit()
