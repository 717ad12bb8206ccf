"""The visitor's account pages in Chromium: the account menu in the site's header, the
login page of a signed-in visitor, the one-button logout page, connected accounts; each
passes axe-core, and every logout is a button (a POST) that ends on "You are logged out"."""

from __future__ import annotations

import pytest

from .helpers import check

expect = pytest.importorskip("playwright.sync_api").expect


def test_the_account_pages_pass_axe_and_log_out_by_button(site, editor_page, new_context,
                                                          axe):
    page = editor_page
    page.goto(site("/"))
    menu = page.get_by_role("navigation", name="Your account")
    expect(menu).to_contain_text("Signed in as Demo Editor")
    check(axe, page, "the demo home with the account menu")

    menu.get_by_role("link", name="Connected accounts").click()
    expect(page.get_by_role("heading", name="Connected accounts")).to_be_visible()
    check(axe, page, "the connected accounts page")

    page.goto(site("/login"))
    expect(page.get_by_text("You are signed in as Demo Editor.")).to_be_visible()
    expect(page.get_by_role("link", name="Continue")).to_be_visible()
    check(axe, page, "the login page of a signed-in visitor")

    page.goto(site("/logout"))
    check(axe, page, "the logout page")
    page.get_by_role("main").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    check(axe, page, "the login page after logout")

    # The header's button logs out too (a POST with the CSRF token, no confirmation).
    other = new_context().new_page()
    from .helpers import sign_in_as_editor

    sign_in_as_editor(other, site)
    other.goto(site("/"))
    other.get_by_role("navigation", name="Your account").get_by_role(
        "button", name="Log out").click()
    expect(other.get_by_role("status")).to_have_text("You are logged out.")
