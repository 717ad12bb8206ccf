"""axe-core on the pages people use: no serious or critical accessibility violation.

axe-core comes bundled in the ``axe-playwright-python`` package (no download at run time);
it runs in the page after each state worth checking is reached.
"""

from __future__ import annotations

import re

import pytest

from .helpers import check, enabled_switch, fill_bitbucket_tab, press, shown, sign_in_as_editor

expect = pytest.importorskip("playwright.sync_api").expect

def test_the_editor_pages_pass_axe(site, new_context, axe):
    page = new_context().new_page()
    sign_in_as_editor(page, site)
    check(axe, page, "the Site overview")
    page.goto(site("/editor/system-pages"))
    check(axe, page, "System Pages")
    page.goto(site("/editor/system-pages/login"))
    check(axe, page, "the Login system page")

    page.goto(site("/editor/system-pages/login/settings"))
    page.wait_for_load_state()
    check(axe, page, "the Login setting")

    # With inline errors (the JavaScript path swaps them in).
    fill_bitbucket_tab(page, client_id="")
    press(page, "OK")
    expect(page.get_by_role("alert")).to_be_visible()
    check(axe, page, "the Login setting with an error")

    # After Apply: success message, draft badge, secret set.
    page.get_by_label("Bitbucket Client ID").fill("e2eKey1234567890abcd")
    press(page, "Apply")
    expect(shown(page, "Draft stored.")).to_be_visible()
    expect(enabled_switch(page)).to_be_checked()
    check(axe, page, "the Login setting after Apply")

    page.goto(site("/editor/system-pages/login/preview"))
    check(axe, page, "the preview")


def test_the_login_page_passes_axe(site, new_context, axe):
    visitor = new_context().new_page()
    visitor.goto(site("/login"))
    check(axe, visitor, "the login page without providers")

    editor = new_context().new_page()
    sign_in_as_editor(editor, site)
    editor.goto(site("/editor/system-pages/login/settings"))
    fill_bitbucket_tab(editor)
    press(editor, "Save")
    expect(shown(editor, "Published version 1")).to_be_visible()

    visitor.reload()
    expect(visitor.get_by_role("link", name="Log in with Bitbucket")).to_be_visible()
    check(axe, visitor, "the login page with the Bitbucket button")

    # A wrong password: the error is shown on the page.
    visitor.get_by_label("Username").fill("nobody")
    visitor.get_by_label("Password").fill("wrong")
    visitor.get_by_role("button", name="Log in", exact=True).click()
    expect(visitor.get_by_role("alert")).to_be_visible()
    check(axe, visitor, "the login page with an error")


def test_the_phone_layout_passes_axe(site, new_context, axe):
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in_as_editor(page, site)
    page.goto(site("/editor/system-pages/login/settings"))
    page.wait_for_load_state()
    check(axe, page, "the Login setting on a phone")


def test_the_pages_of_the_editors_checks_pass_axe(site, new_context, axe, bitbucket):
    """Status words, the "not shown" notice, the preview with Save and placeholders, a Test
    login result, on a wide screen and on a phone."""
    page = new_context().new_page()
    sign_in_as_editor(page, site)
    page.goto(site("/editor/system-pages/login/settings"))
    page.wait_for_load_state()
    page.get_by_role("tabpanel").get_by_role("checkbox", name=re.compile("^Enabled")).uncheck()
    page.get_by_label("Bitbucket Client ID").fill("e2eKey1234567890abcd")
    page.get_by_label("Bitbucket Client Secret").fill("e2eSecret-s3cr3t-XYZ-0123456789abcdef")
    press(page, "Apply")
    expect(page.get_by_text("Set up but not shown to visitors")).to_be_visible()
    check(axe, page, "the Login setting with a set-up provider that is not shown")

    press(page, "Preview")
    expect(page.get_by_text("Would be here")).to_be_visible()
    check(axe, page, "the preview with Save and a placeholder")

    page.get_by_role("button", name="Test login with Bitbucket").click()
    page.get_by_role("button", name="Grant access").click()
    expect(page.get_by_test_id("test-outcome")).to_be_visible()
    check(axe, page, "a Test login result")

    page.goto(site("/editor/system-pages/login"))
    check(axe, page, "the Login system page with the status words")

    phone = new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in_as_editor(phone, site)
    phone.goto(site("/editor/system-pages/login/preview"))
    check(axe, phone, "the preview on a phone")
    phone.goto(site("/editor/system-pages/login/test-login"))
    check(axe, phone, "the Test login page on a phone (no result yet)")
