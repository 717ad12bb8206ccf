"""The editor's story taken literally, in Chromium: exactly the steps the product's own
story names, with the words on the screen, and the button is on /login. Also Test login,
the status words, Preview's Save, phones and pages without JavaScript.

Screenshots of the states worth showing land in tests/e2e/screenshots/ (the README shows
copies from docs/screenshots/).
"""

from __future__ import annotations

import re

import pytest

from cms_social_login.testing.oidc_emulator import OIDCEmulator

from .helpers import (
    BITBUCKET_BUTTON,
    CLIENT_ID,
    CLIENT_SECRET,
    open_login_setting,
    press,
    shown,
    sign_in_as_editor,
)

expect = pytest.importorskip("playwright.sync_api").expect

PHONE = {"width": 390, "height": 844}


def test_the_editor_story_taken_literally_publishes_the_button(
        site, new_context, bitbucket, shoot):
    editor = new_context().new_page()
    sign_in_as_editor(editor, site)
    open_login_setting(editor, site)

    # 1. Select the Bitbucket tab.
    editor.get_by_role("tab", name="Bitbucket").click()
    # 2. Fill Bitbucket Client ID and Bitbucket Client Secret (and nothing else).
    editor.get_by_label("Bitbucket Client ID").fill(CLIENT_ID)
    editor.get_by_label("Bitbucket Client Secret").fill(CLIENT_SECRET)
    # 3. OK.
    press(editor, "OK")
    expect(shown(editor, "Checked. Nothing is stored yet")).to_be_visible()
    # 4. Apply.
    press(editor, "Apply")
    expect(shown(editor, "Draft stored.")).to_be_visible()
    expect(editor.get_by_test_id("status-bitbucket")).to_have_text("Draft changes")
    expect(editor.get_by_text("Set up but not shown to visitors")).to_have_count(0)
    shoot(editor, "literal-01-tab-after-apply")
    # 5. Preview.
    press(editor, "Preview")
    editor.wait_for_url(site("/editor/system-pages/login/preview"))
    expect(editor.get_by_text(BITBUCKET_BUTTON)).to_be_visible()
    expect(editor.get_by_role("link", name="Back to the Login setting")).to_be_visible()
    shoot(editor, "literal-02-preview-with-save")
    # 6. Save.
    press(editor, "Save")
    expect(shown(editor, "Visitors now see: Log in with Bitbucket, username and password."
                 )).to_be_visible()
    expect(editor.get_by_test_id("status-bitbucket")).to_have_text("Live")
    shoot(editor, "literal-03-saved")

    visitor = new_context().new_page()
    visitor.goto(site("/login"))
    expect(visitor.get_by_role("link", name=BITBUCKET_BUTTON)).to_be_visible()


def test_switched_off_is_said_at_every_step_and_show_it_fixes_it(
        site, editor_page, visitor_page, shoot):
    open_login_setting(editor_page, site)
    editor_page.get_by_role("tab", name="Bitbucket").click()
    editor_page.get_by_role("tabpanel").get_by_role(
        "checkbox", name=re.compile("^Enabled")).uncheck()
    editor_page.get_by_label("Bitbucket Client ID").fill(CLIENT_ID)
    editor_page.get_by_label("Bitbucket Client Secret").fill(CLIENT_SECRET)
    notice = editor_page.locator("#bitbucket-hidden-notice")
    for button in ("OK", "Apply"):
        press(editor_page, button)
        expect(notice).to_contain_text("Set up but not shown to visitors")
    expect(editor_page.get_by_test_id("status-bitbucket")).to_have_text("Set up, not shown")
    shoot(editor_page, "hidden-01-notice")
    press(editor_page, "Preview")
    expect(editor_page.get_by_text("Would be here: Bitbucket is set up but switched off"
                                   )).to_be_visible()
    shoot(editor_page, "hidden-02-preview-placeholder")
    editor_page.get_by_role("link", name="Back to the Login setting").click()
    press(editor_page, "Save")
    expect(shown(editor_page, "Visitors now see: username and password.")).to_be_visible()
    expect(notice).to_contain_text("Set up but not shown to visitors")
    visitor_page.goto(site("/login"))
    expect(visitor_page.get_by_role("link", name=BITBUCKET_BUTTON)).to_have_count(0)

    editor_page.get_by_role("button", name="Show it").click()
    expect(notice).to_have_count(0)
    expect(editor_page.get_by_role("tabpanel").get_by_role(
        "checkbox", name=re.compile("^Enabled"))).to_be_focused()
    press(editor_page, "Save")
    expect(shown(editor_page, "Visitors now see: Log in with Bitbucket")).to_be_visible()
    visitor_page.reload()
    expect(visitor_page.get_by_role("link", name=BITBUCKET_BUTTON)).to_be_visible()


def test_a_bitbucket_test_login_shows_the_profile(site, editor_page, bitbucket, shoot):
    open_login_setting(editor_page, site)
    editor_page.get_by_role("tab", name="Bitbucket").click()
    editor_page.get_by_label("Bitbucket Client ID").fill(CLIENT_ID)
    editor_page.get_by_label("Bitbucket Client Secret").fill(CLIENT_SECRET)
    editor_page.get_by_label("Allowed workspaces").fill("ada-workspace")
    bitbucket.current_user = bitbucket.add_user(
        "Grace Hopper", nickname="grace", emails=["grace@example.org"],
        workspaces=["ada-workspace"])
    editor_page.get_by_role("tabpanel").get_by_role("button", name="Test login").click()
    editor_page.get_by_role("button", name="Grant access").click()
    editor_page.wait_for_url(site("/editor/system-pages/login/test-login"))
    expect(editor_page.get_by_test_id("test-outcome")).to_contain_text(
        "The test login with Bitbucket worked")
    expect(editor_page.get_by_test_id("test-name")).to_have_text("Grace Hopper")
    expect(editor_page.get_by_test_id("test-email")).to_have_text("grace@example.org")
    expect(editor_page.get_by_test_id("test-rule")).to_contain_text(
        "this account passes the rule")
    shoot(editor_page, "test-login-01-bitbucket")
    # Still the editor, nothing stored: back in the dialog the tab is not set up.
    editor_page.get_by_role("link", name="Back to the Login setting").click()
    expect(editor_page.get_by_test_id("status-bitbucket")).to_have_text("Not set up")
    expect(editor_page.locator(".editor-user .user-name")).to_have_text("Demo Editor")


@pytest.fixture
def oidc(site):
    """An OpenID Connect provider on 127.0.0.1 with a client for this site."""
    with OIDCEmulator(issuer_path="/realms/staff") as emulator:
        emulator.add_client(CLIENT_ID, CLIENT_SECRET, name="Demo CMS",
                            callback_url=site("/login/oidc/callback"))
        emulator.current_user = emulator.add_user(
            "Barbara Liskov", "barbara@example.org", preferred_username="barbara")
        yield emulator


def test_an_openid_connect_test_login_from_the_preview(site, editor_page, oidc, shoot):
    open_login_setting(editor_page, site)
    editor_page.get_by_role("tab", name="OpenID Connect").click()
    editor_page.get_by_label("Issuer URL").fill(oidc.issuer)
    editor_page.get_by_label("OpenID Connect Client ID").fill(CLIENT_ID)
    editor_page.get_by_label("OpenID Connect Client Secret").fill(CLIENT_SECRET)
    editor_page.get_by_label("Button title").fill("Staff login")
    editor_page.get_by_role("tabpanel").get_by_role(
        "button", name="Verify credentials").click()
    expect(editor_page.locator("#oidc-verification")).to_have_text(
        "These credentials work: OpenID Connect accepted the Client ID and Client Secret.")
    press(editor_page, "Preview")
    editor_page.wait_for_url(site("/editor/system-pages/login/preview"))
    editor_page.get_by_role("button", name="Test login with OpenID Connect").click()
    editor_page.get_by_role("button", name="Grant access").click()
    editor_page.wait_for_url(site("/editor/system-pages/login/test-login"))
    expect(editor_page.get_by_test_id("test-name")).to_have_text("Barbara Liskov")
    expect(editor_page.get_by_test_id("test-email")).to_have_text("barbara@example.org")
    shoot(editor_page, "test-login-02-openid-connect")
    editor_page.get_by_role("link", name="Back to the preview").click()
    expect(editor_page.get_by_text("Log in with Staff login")).to_be_visible()


def test_the_status_words_on_the_login_system_page(site, editor_page, new_context,
                                                   bitbucket, shoot):
    open_login_setting(editor_page, site)
    editor_page.get_by_role("tab", name="Bitbucket").click()
    editor_page.get_by_label("Bitbucket Client ID").fill(CLIENT_ID)
    editor_page.get_by_label("Bitbucket Client Secret").fill(CLIENT_SECRET)
    press(editor_page, "Save")
    expect(shown(editor_page, "Published version 1")).to_be_visible()
    visitor = new_context().new_page()
    visitor.goto(site("/login"))
    visitor.get_by_role("link", name=BITBUCKET_BUTTON).click()
    visitor.get_by_role("button", name="Grant access").click()
    visitor.wait_for_url(site("/"))

    editor_page.goto(site("/editor/system-pages/login"))
    expect(editor_page.get_by_test_id("page-status-bitbucket")).to_have_text("Live")
    expect(editor_page.get_by_role("row", name=re.compile("^Bitbucket"))).to_contain_text(
        "Sign-ins in the last 7 days: 1")
    expect(editor_page.get_by_test_id("page-status-github")).to_have_text("Not set up")
    shoot(editor_page, "status-01-login-page")
    editor_page.goto(site("/editor/system-pages/login/settings"))
    expect(editor_page.get_by_test_id("status-bitbucket")).to_have_text("Live")
    shoot(editor_page, "status-02-tab-list", full_page=False)


def test_every_tab_is_reachable_on_a_phone(site, new_context, shoot):
    page = new_context(viewport=PHONE).new_page()
    sign_in_as_editor(page, site)
    page.goto(site("/editor/system-pages/login/settings"))
    page.wait_for_load_state()
    tabs = page.get_by_role("tab")
    assert tabs.count() >= 4
    for index in range(tabs.count()):
        tab = tabs.nth(index)
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways ({width}px)"
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "phone-02-every-tab", full_page=False)


def test_switching_tabs_without_javascript_keeps_what_was_typed(site, new_context, bitbucket):
    page = new_context(java_script_enabled=False).new_page()
    sign_in_as_editor(page, site)
    open_login_setting(page, site)
    page.get_by_role("tab", name="Bitbucket").click()
    page.get_by_label("Bitbucket Client ID").fill(CLIENT_ID)
    page.get_by_label("Bitbucket Client Secret").fill(CLIENT_SECRET)
    page.get_by_role("tab", name="GitHub").click()  # a plain form post
    expect(page.get_by_role("tab", name="GitHub")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("GitHub Client ID")).to_be_visible()
    page.get_by_role("tab", name="Bitbucket").click()
    expect(page.get_by_label("Bitbucket Client ID")).to_have_value(CLIENT_ID)
    expect(page.get_by_label("Bitbucket Client Secret")).to_have_attribute(
        "placeholder", "secret set — leave empty to keep")
    press(page, "Save")
    expect(shown(page, "Visitors now see: Log in with Bitbucket")).to_be_visible()


def test_focus_never_hides_under_the_sticky_bars(site, new_context):
    page = new_context(viewport={"width": 1280, "height": 600}).new_page()
    sign_in_as_editor(page, site)
    page.goto(site("/editor/system-pages/login/settings"))
    page.wait_for_load_state()
    page.get_by_role("tab", name="Bitbucket").focus()
    covered = []
    for _ in range(60):
        page.keyboard.press("Tab")
        hidden = page.evaluate("""() => {
          const el = document.activeElement;
          if (!el || el === document.body || el.closest('.editor-bar, .dialog-buttons')) {
            return null;
          }
          const box = el.getBoundingClientRect();
          const bar = document.querySelector('.editor-bar').getBoundingClientRect();
          const buttons = document.querySelector('.dialog-buttons').getBoundingClientRect();
          // A container taller than the room between the bars (the tab panel) only needs
          // its top in view.
          const tall = box.height > buttons.top - bar.bottom;
          const under = box.top < bar.bottom - 1 || (!tall && box.bottom > buttons.top + 1);
          return under ? (el.id || el.name || el.outerHTML.slice(0, 80)) : null;
        }""")
        if hidden:
            covered.append(hidden)
        if page.evaluate("!!document.activeElement.closest('.dialog-buttons')"):
            break
    assert not covered, f"focused under a sticky bar: {covered}"


def test_a_test_login_without_javascript(site, new_context, bitbucket):
    page = new_context(java_script_enabled=False).new_page()
    sign_in_as_editor(page, site)
    open_login_setting(page, site)
    page.get_by_label("Bitbucket Client ID").fill(CLIENT_ID)
    page.get_by_label("Bitbucket Client Secret").fill(CLIENT_SECRET)
    page.get_by_role("tabpanel").get_by_role("button", name="Test login").click()
    page.get_by_role("button", name="Grant access").click()
    page.wait_for_url(site("/editor/system-pages/login/test-login"))
    expect(page.get_by_test_id("test-name")).to_have_text("Ada Lovelace")
