"""Many sites, one deployment, in a real browser: the demo serves site-a.localhost and
site-b.localhost (Chromium resolves ``*.localhost`` to loopback) from one process and
one database. Each site's editor registers the site's own Bitbucket consumer, and a
visitor logs in on each, through that site's consumer."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from cms_demo.bootstrap import create_editor

from .helpers import fill_bitbucket_tab, open_login_setting, press, shown, sign_in_as_editor

expect = pytest.importorskip("playwright.sync_api").expect

#: (host, editor account, the site's own Bitbucket consumer)
SITES = [
    ("site-a", ("editor-a", "editor-a"), ("siteAkey0123456789ab", "siteA-secret-0123456789ab")),
    ("site-b", ("editor-b", "editor-b"), ("siteBkey0123456789ab", "siteB-secret-0123456789ab")),
]


class HostSite:
    """One of the demo's sites on the running server, addressed by its host name."""

    def __init__(self, name: str, port: int) -> None:
        self.url = f"http://{name}.localhost:{port}"

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    @property
    def callback_url(self) -> str:
        return self.url + "/login/bitbucket/callback"


def test_two_sites_with_their_own_consumers_each_log_a_visitor_in(
        make_site, new_context, bitbucket, shoot):
    server = make_site()
    port = urlsplit(server.url).port
    factory = server.app.registry["dbsession_factory"]
    for name, (login, password), _consumer in SITES:  # as development.ini makes them
        create_editor(factory, login, password, site=name)
    for name, (login, password), (key, secret) in SITES:
        site = HostSite(name, port)
        bitbucket.add_client(key, secret, callback_url=site.callback_url, name=f"Demo {name}")

        editor = new_context().new_page()
        editor.goto(site("/editor"))
        editor.get_by_label("Username").fill(login)
        editor.get_by_label("Password").fill(password)
        editor.get_by_role("button", name="Log in", exact=True).click()
        editor.wait_for_url(site("/editor"))
        dialog = open_login_setting(editor, site)
        # The tab shows this site's own callback URL, the one its consumer registers.
        expect(dialog.get_by_label("Callback URL to register at Bitbucket")).to_have_value(
            site.callback_url)
        fill_bitbucket_tab(editor, key, secret)
        press(editor, "Save")
        expect(shown(editor, "Published version 1")).to_be_visible()
        shoot(editor, f"many-sites-{name}-01-saved")

        visitor = new_context().new_page()
        visitor.goto(site("/login"))
        visitor.get_by_role("link", name="Log in with Bitbucket").click()
        visitor.wait_for_url(re.compile(re.escape(bitbucket.authorize_url)))
        assert parse_qs(urlsplit(visitor.url).query)["client_id"] == [key]
        visitor.get_by_role("button", name="Grant access").click()
        visitor.wait_for_url(site("/"))
        expect(visitor.locator(".user-name")).to_have_text("Ada Lovelace")
        shoot(visitor, f"many-sites-{name}-02-visitor-signed-in")

    # The default site (127.0.0.1, editor / editor) has no Bitbucket button.
    default = new_context().new_page()
    default.goto(server("/login"))
    expect(default.get_by_role("link", name="Log in with Bitbucket")).to_have_count(0)
    sign_in_as_editor(default, server)  # its editor still works exactly as before
