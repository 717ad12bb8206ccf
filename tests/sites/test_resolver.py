"""The site resolver: a host's directive (or ini setting), one answer per request, the
default site for hosts that set none, and callback URLs on the site's own address."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.router import Router
from pyramid.scripting import prepare
from webtest import TestApp

from cms_social_login.redirects import site_location
from cms_social_login.services.sso import callback_url
from cms_social_login.sites import Site


def host_app(settings, *resolvers, **extra):
    """A host's configuration: the add-on, a security policy, the given resolvers."""
    config = Configurator(settings={**settings, **extra})
    config.include("cms_social_login")
    config.include("cms_demo.models")
    config.include("cms_demo.security")
    for resolver in resolvers:
        config.set_social_login_site_resolver(resolver)
    config.commit()
    return config.registry


def request_on(registry, url: str):
    """A real request to ``url`` with the application's request methods."""
    env = prepare(request=Request.blank(url), registry=registry)
    return env["request"]


def shop(request):
    """A platform's resolver: the shop has its own public address."""
    return Site("shop", base_url="https://shop.example.org/")


def test_a_host_without_a_resolver_is_one_default_site(app_settings):
    request = request_on(host_app(app_settings), "http://any.example.net/login")
    assert request.social_login_site == Site("default")
    assert callback_url(request, "bitbucket") \
        == "http://any.example.net/login/bitbucket/callback"


def test_a_sites_callback_url_is_on_its_own_host(app_settings):
    registry = host_app(app_settings, "cms_demo.sites.host_site")
    request = request_on(registry, "http://site-a.localhost:6543/login")
    assert request.social_login_site.key == "site-a"
    assert callback_url(request, "bitbucket") \
        == "http://site-a.localhost:6543/login/bitbucket/callback"


def test_a_sites_own_base_url_makes_its_callback_url(app_settings):
    request = request_on(host_app(app_settings, shop), "http://10.0.0.7:8080/login")
    assert callback_url(request, "bitbucket") \
        == "https://shop.example.org/login/bitbucket/callback"


@pytest.mark.parametrize("base_url", ["https://platform.example/shop", "https://platform.example"])
def test_a_site_mounted_under_a_path_gets_it_once_in_its_urls(app_settings, base_url):
    """The platform serves the app under /shop (``SCRIPT_NAME``, e.g. PasteDeploy's prefix
    middleware); the site's base URL may name that path or not."""
    registry = host_app(app_settings, lambda request: Site("shop", base_url=base_url))
    request = request_on(registry, "http://10.0.0.7:8080/login")
    request.script_name = "/shop"
    assert callback_url(request, "bitbucket") == \
        "https://platform.example/shop/login/bitbucket/callback"
    assert site_location(request, "/shop/page") == "https://platform.example/shop/page"


def test_a_site_of_its_own_name_heads_its_pages_with_it(app_settings):
    """On a platform every site has its name: the resolver gives it, the deployment-wide
    ``cms_social_login.site_name`` is for the sites that have none."""
    def named(request):
        return Site("shop", name=" Shop  & Co ") if request.host.startswith("shop.") else "blog"

    registry = host_app(app_settings, named, **{"cms_social_login.site_name": "Platform"})
    browser = TestApp(Router(registry))
    for host, name in (("shop.example.org", "Shop & Co"), ("blog.example.org", "Platform")):
        page = browser.get("/login", headers={"Host": host})
        assert page.html.select_one("a.site-name").get_text(strip=True) == name
    names = {"shop": "Shop & Co"}

    def renamed(request):  # the platform's own table: the shop is renamed while serving
        return Site("shop", name=names["shop"])

    registry = host_app(app_settings, renamed)
    browser = TestApp(Router(registry))
    browser.get("/login", headers={"Host": "shop.example.org"})
    names["shop"] = "Shop & Sons"
    page = browser.get("/login", headers={"Host": "shop.example.org"})
    assert page.html.select_one("a.site-name").get_text(strip=True) == "Shop & Sons"


def test_the_single_site_url_setting_stays_the_default_sites(app_settings):
    registry = host_app(app_settings, "cms_demo.sites.host_site",
                        **{"cms_social_login.site_url": "https://www.example.org"})
    default = request_on(registry, "http://localhost:6543/login")
    site_a = request_on(registry, "http://site-a.localhost:6543/login")
    assert callback_url(default, "bitbucket") == \
        "https://www.example.org/login/bitbucket/callback"
    assert callback_url(site_a, "bitbucket") == \
        "http://site-a.localhost:6543/login/bitbucket/callback"


def test_the_resolver_may_be_named_in_the_ini(app_settings):
    registry = host_app(app_settings, **{
        "cms_social_login.site_resolver": "cms_demo.sites.host_site"})
    assert request_on(registry, "http://site-b.localhost/").social_login_site.key == "site-b"


def test_a_request_of_no_site_is_not_found(app_settings):
    request = request_on(host_app(app_settings, lambda request: None), "http://x.example/")
    with pytest.raises(HTTPNotFound):
        request.social_login_site  # noqa: B018 (the reified attribute raises)


def subdomain(request):
    """A platform's resolver: the first label of the host name is the site's key."""
    return request.host.split(".")[0]


@pytest.mark.parametrize("host", ["-shop.example.org", "a%20b.example.org", "x" * 65 + ".example"])
def test_a_made_up_host_the_resolver_makes_no_site_key_of_is_not_found(app_settings, host,
                                                                      caplog):
    registry = host_app(app_settings, subdomain)
    assert request_on(registry, "http://shop.example.org/login").social_login_site.key == "shop"
    request = request_on(registry, f"http://{host}/login")
    with pytest.raises(HTTPNotFound):
        request.social_login_site  # noqa: B018 (the reified attribute raises)
    assert "no site key, answered as no site (404)" in caplog.text
    # The whole site answers that host with a 404 page, never a server error.
    page = TestApp(Router(registry)).get("/login", headers={"Host": host}, status="*")
    assert page.status_int == 404


def test_two_resolvers_are_a_conflict(app_settings):
    with pytest.raises(ConfigurationConflictError):
        host_app(app_settings, shop, "cms_demo.sites.host_site")


def test_the_resolver_is_introspectable(app_settings):
    registry = host_app(app_settings, shop)
    [entry] = registry.introspector.get_category("social login site resolver")
    assert "shop" in entry["introspectable"].title


@pytest.mark.parametrize("key", ["", " a", "a b", "x" * 65, "ü", None])
def test_a_bad_site_key_is_refused(key):
    with pytest.raises(ValueError, match="site key"):
        Site(key)


@pytest.mark.parametrize("url", ["ftp://shop.example.org", "shop.example.org", "https://"])
def test_a_bad_base_url_is_refused(url):
    with pytest.raises(ValueError, match="base URL"):
        Site("shop", base_url=url)


def test_the_demo_makes_no_editor_of_a_key_that_is_no_site(capsys):
    from cms_demo.bootstrap import create_editor_command

    with pytest.raises(SystemExit) as stopped:
        create_editor_command(["development.ini", "zed", "--site", "a b"])
    assert stopped.value.code == 2
    assert "--site: a site key is 1 to 64 letters" in capsys.readouterr().err
