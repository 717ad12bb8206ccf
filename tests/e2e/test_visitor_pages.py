"""What a visitor reads on the add-on's pages never contradicts itself: a signed-in visitor
already linked to Bitbucket is not offered to connect it again, "You are logged out" shows
only when nobody is signed in, the connected-accounts page suggests only the ways in this
site offers (no password: the demo has no page to set one), and the header names the site
by its setting with a link to the site's root."""

from __future__ import annotations

import re

import pytest

from cms_social_login.testing.steps import fill_tab, make_browser, sign_in

from .helpers import CLIENT_ID, CLIENT_SECRET

expect = pytest.importorskip("playwright.sync_api").expect


def publish_bitbucket(site) -> None:
    """The editor's Save, done over WSGI (the editor's clicks have their own tests)."""
    editor = make_browser(site.app)
    sign_in(editor)
    fill_tab(editor, "bitbucket", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
             "save")


def test_a_signed_in_visitor_reads_no_contradictions(site, visitor_page, bitbucket, shoot):
    publish_bitbucket(site)
    visitor = visitor_page
    visitor.goto(site("/login"))
    header = visitor.locator("a.site-name")
    expect(header).to_have_text("Demo CMS")  # cms_social_login.site_name
    expect(header).to_have_attribute("href", site("/"))
    visitor.get_by_role("link", name="Log in with Bitbucket").click()
    visitor.wait_for_url(re.compile(re.escape(bitbucket.authorize_url)))
    visitor.get_by_role("button", name="Grant access").click()
    visitor.wait_for_url(site("/"))

    # /login: who they are, and no offer to connect the Bitbucket they signed in with.
    visitor.goto(site("/login"))
    expect(visitor.get_by_text("You are signed in as Ada Lovelace.")).to_be_visible()
    expect(visitor.get_by_role("link", name="Connect Bitbucket")).to_have_count(0)
    shoot(visitor, "visitor-login-signed-in-linked")

    # /logout/done while signed in (another tab signed in again): no "logged out".
    visitor.goto(site("/logout/done"))
    expect(visitor.get_by_text("You are signed in as Ada Lovelace.")).to_be_visible()
    expect(visitor.get_by_text("You are logged out.")).to_have_count(0)

    # Connected accounts: the last way in stays, and no password is suggested.
    visitor.goto(site("/account/connections"))
    expect(visitor.locator("a.site-name")).to_have_attribute("href", site("/"))
    expect(visitor.locator(".disconnect-reason")).to_have_text(
        "It is your only way to sign in.")
    expect(visitor.get_by_text(re.compile("password", re.IGNORECASE))).to_have_count(0)
    shoot(visitor, "visitor-connections-no-password")

    # Logged out for real: now the page says so.
    visitor.get_by_role("navigation", name="Your account").get_by_role(
        "button", name="Log out").click()
    expect(visitor.get_by_role("status")).to_have_text("You are logged out.")
    visitor.goto(site("/logout/done"))
    expect(visitor.get_by_role("status")).to_have_text("You are logged out.")
