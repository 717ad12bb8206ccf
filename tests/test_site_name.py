"""The add-on's public pages name the host's site, not the demo: the setting
``cms_social_login.site_name``, else the host name; the name links to the site's root,
under whatever path the site is mounted at."""

from __future__ import annotations

import pytest
import webtest

from cms_social_login.models import get_social_login_engine
from cms_social_login.settings import SocialLoginSettings
from cms_social_login.testing.steps import sign_in

from .helpers import SECRET_KEY

PAGES = ("/login", "/logout", "/account/connections")


def site_link(page):
    link = page.html.select_one("a.site-name")
    return link.get_text(strip=True), link["href"]


@pytest.fixture
def named_app(app_settings):
    from cms_demo import main

    application = main({}, **{**app_settings, "cms_social_login.site_name": "  Acme   Intranet "})
    yield application
    get_social_login_engine(application.registry).dispose()


def test_the_setting_is_read_at_start():
    def parsed(**extra):
        return SocialLoginSettings.from_settings(
            {"cms_social_login.secret_key": SECRET_KEY, **extra}).site_name

    assert parsed() is None
    assert parsed(**{"cms_social_login.site_name": " "}) is None
    assert parsed(**{"cms_social_login.site_name": " Acme\n Intranet "}) == "Acme Intranet"


def test_without_the_setting_the_pages_name_the_host(app):
    browser = webtest.TestApp(app, extra_environ={"HTTP_HOST": "www.example.org"})
    sign_in(browser)
    for path in PAGES:
        assert site_link(browser.get(path)) == ("www.example.org", "http://www.example.org/")


def test_the_site_name_and_the_sites_address_head_every_public_page(named_app):
    # The site is mounted under /cms: the link goes to its root, not the server's.
    browser = webtest.TestApp(named_app, extra_environ={"HTTP_HOST": "localhost",
                                                        "SCRIPT_NAME": "/cms"})
    sign_in(browser)
    for path in PAGES:
        page = browser.get(path)
        assert site_link(page) == ("Acme Intranet", "http://localhost/cms/"), path
        assert "Demo CMS" not in page.text
    german = browser.get("/logout?_LOCALE_=de")
    assert site_link(german)[0] == "Acme Intranet"  # a name, not translated
