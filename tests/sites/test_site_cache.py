"""The published-settings cache holds one snapshot per site, at most
``cms_social_login.site_cache_size`` of them (the least recently used goes first), and
never serves one site's buttons on another. The rendered anonymous login pages are kept
the same way, a few per site, and forgotten with the site's snapshot on Save."""

from __future__ import annotations

import time

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.router import Router
from webtest import TestApp

from cms_social_login.models import get_social_login_engine
from cms_social_login.services import published
from cms_social_login.services.published import CACHE_KEY, PAGES_PER_SITE, site_pages
from cms_social_login.sites import Site, SiteCache
from cms_social_login.testing import steps

from ..helpers import sql_statements
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


@pytest.mark.parametrize("size", ["0", "-3", "many", "\N{SUPERSCRIPT TWO}", "\uff15"])
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


def paged_sites(app) -> list[str]:
    """The sites whose rendered login pages the process keeps, least recently used first."""
    return site_pages(app.registry).keys()


def site_name_on(page) -> str:
    """The site's name at the top of a public page."""
    return page.html.select_one("a.site-name").get_text(strip=True)


def test_the_rendered_pages_are_kept_for_the_cached_sites_only(app, browser_at):
    for host in [HOST_A, HOST_B, HOST_DEFAULT] * 2:
        browser_at(host).get("/login")
        assert len(paged_sites(app)) <= 2
    assert paged_sites(app) == ["site-b", "default"]
    browser_at(HOST_A).get("/login")
    assert paged_sites(app) == ["default", "site-a"]


def test_a_cached_page_never_shows_on_another_site(app, site_consumers, editor_a, browser_at):
    publish_bitbucket(editor_a, HOST_A).follow()
    for _round in range(2):  # the second round is served from the pages kept
        on_a, on_b = browser_at(HOST_A).get("/login"), browser_at(HOST_B).get("/login")
        assert len(steps.login_buttons(on_a, "bitbucket")) == 1
        assert steps.login_buttons(on_b, "bitbucket") == []
        assert site_name_on(on_a) == HOST_A and site_name_on(on_b) == HOST_B
        assert f"http://{HOST_A}/login" in on_a.text and HOST_A not in on_b.text


def test_the_kept_page_is_the_rendered_page_with_the_visitors_token(app, browser_at):
    first, second = (browser_at(HOST_A).get("/login") for _ in range(2))  # rendered, kept
    assert len(paged_sites(app)) == 1 and first.text == second.text
    token = second.html.select_one("input[name=csrf_token]")["value"]
    assert token and "placeholder" not in token and second.text.count(token) == 1


def test_a_save_forgets_the_sites_pages_and_the_next_page_shows_it(app, site_consumers,
                                                                     editor_a, browser_at):
    visitor = browser_at(HOST_A)
    assert steps.login_buttons(visitor.get("/login"), "bitbucket") == []
    browser_at(HOST_B).get("/login")
    assert paged_sites(app) == ["site-a", "site-b"]
    publish_bitbucket(editor_a, HOST_A).follow()
    assert "site-a" not in paged_sites(app) and "site-b" in paged_sites(app)
    assert len(steps.login_buttons(visitor.get("/login"), "bitbucket")) == 1


def test_made_up_hosts_replace_one_sites_pages_and_never_grow_them(app, browser_at):
    browser_at(HOST_A).get("/login")
    for number in range(3 * PAGES_PER_SITE):  # every made-up host is the default site
        page = browser_at(f"made-up-{number}.example").get("/login")
        assert site_name_on(page) == f"made-up-{number}.example"
        assert len(site_pages(app.registry).get("default")) <= PAGES_PER_SITE
    assert paged_sites(app) == ["site-a", "default"]  # site-a's page is still kept


def test_a_renamed_site_gets_a_new_page(app_settings):
    names = {"shop": "Shop & Co"}

    def renamed(request):  # the platform's own table: the shop is renamed while serving
        return Site("shop", name=names["shop"])

    config = Configurator(settings=app_settings)
    config.include("cms_social_login")
    config.include("cms_demo.models")
    config.include("cms_demo.security")
    config.set_social_login_site_resolver(renamed)
    config.commit()
    browser = TestApp(Router(config.registry))
    assert site_name_on(browser.get("/login", headers={"Host": "shop.example.org"})) \
        == "Shop & Co"
    names["shop"] = "Shop & Sons"
    assert site_name_on(browser.get("/login", headers={"Host": "shop.example.org"})) \
        == "Shop & Sons"
    assert len(site_pages(config.registry).get("shop")) == 2




def test_one_poll_keeps_every_held_site_current_and_drops_the_saved_one(
        app_settings, app, site_consumers, editor_a, monkeypatch):
    from cms_demo import main

    # Another worker of the same platform, holding site-a and site-b.
    worker = main({}, **{**app_settings, "cms_social_login.site_cache_size": "10"})
    try:
        at = {host: TestApp(worker, extra_environ={"HTTP_HOST": host})
              for host in (HOST_A, HOST_B)}
        for browser in at.values():
            assert steps.login_buttons(browser.get("/login"), "bitbucket") == []
        publish_bitbucket(editor_a, HOST_A).follow()  # saved on the first worker
        later = time.monotonic() + 5  # every snapshot older than published_max_age
        monkeypatch.setattr(published.time, "monotonic", lambda: later)
        with sql_statements(worker) as seen:
            assert steps.login_buttons(at[HOST_B].get("/login"), "bitbucket") == []
        # One statement for every site held: the Saves since the last poll (site-a's).
        assert len(seen) == 1 and "social_login_publish_history" in seen[0], seen
        assert cached_sites(worker) == ["site-b"]  # site-a dropped, its page too
        assert "site-a" not in paged_sites(worker)
        with sql_statements(worker) as seen:
            assert len(steps.login_buttons(at[HOST_A].get("/login"), "bitbucket")) == 1
            assert steps.login_buttons(at[HOST_B].get("/login"), "bitbucket") == []
        # site-a: its row with its document, once; site-b: trusted since the poll.
        assert len(seen) == 1 and "social_login_settings" in seen[0], seen
    finally:
        get_social_login_engine(worker.registry).dispose()
