"""The published-settings cache holds one snapshot per site, at most
``cms_social_login.site_cache_size`` of them (the least recently used goes first), and
never serves one site's buttons on another."""

from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from cms_social_login.services.published import CACHE_KEY
from cms_social_login.sites import SiteCache
from cms_social_login.testing import steps

from .helpers import HOST_A, HOST_B, HOST_DEFAULT, publish_bitbucket


@pytest.fixture
def app_settings(app_settings):
    """A process that keeps two sites' published settings."""
    return {**app_settings, "cms_social_login.site_cache_size": "2"}


def cached_sites(app) -> list[str]:
    """The sites the process keeps, least recently used first."""
    return app.registry[CACHE_KEY].keys()


def test_the_least_recently_used_site_goes_first():
    cache: SiteCache[str, int] = SiteCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"] and cache.get("b") is None and len(cache) == 2


def test_a_cache_of_no_sites_is_refused():
    with pytest.raises(ValueError):
        SiteCache(0)


@pytest.mark.parametrize("size", ["0", "-3", "many"])
def test_a_bad_cache_size_stops_the_start_with_its_name(app_settings, size):
    from cms_demo import main

    with pytest.raises(ConfigurationError, match="cms_social_login.site_cache_size"):
        main({}, **{**app_settings, "cms_social_login.site_cache_size": size})


def test_one_sites_buttons_never_show_on_another(app, site_consumers, editor_a, browser_at):
    publish_bitbucket(editor_a, HOST_A).follow()
    site_a, site_b, default = (browser_at(host) for host in (HOST_A, HOST_B, HOST_DEFAULT))
    for _round in range(2):  # the second round is served from the cache
        assert len(steps.login_buttons(site_a.get("/login"), "bitbucket")) == 1
        assert steps.login_buttons(site_b.get("/login"), "bitbucket") == []
        assert steps.login_buttons(default.get("/login"), "bitbucket") == []
    assert cached_sites(app) == ["site-b", "default"]  # two sites; site-a went first


def test_worker_memory_is_bounded_by_the_setting_not_by_the_sites(app, browser_at):
    hosts = [HOST_A, HOST_B, HOST_DEFAULT]
    for host in hosts * 3:
        browser_at(host).get("/login")
        assert len(cached_sites(app)) <= 2
    browser_at(HOST_A).get("/login")
    browser_at(HOST_B).get("/login")
    assert cached_sites(app) == ["site-a", "site-b"]
