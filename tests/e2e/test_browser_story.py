"""The editor's and the visitor's journeys in a real browser (Chromium, via Playwright).

Each step is done as a site builder's help page tells it: click what the person sees,
find fields by their labels. Screenshots of the steps land in tests/e2e/screenshots/.
"""

from __future__ import annotations

import re

import pytest

from .helpers import (
    BITBUCKET_BUTTON,
    CLIENT_ID,
    CLIENT_SECRET,
    AnotherProvider,
    ExampleProvider,
    enabled_switch,
    fill_bitbucket_tab,
    open_login_setting,
    press,
    shown,
    sign_in_as_editor,
)

expect = pytest.importorskip("playwright.sync_api").expect

NO_RELOAD_MARK = "window.__noReloadMark"


# ---------------------------------------------------------------------- steps


def mark_page(page):
    """Remember this document: a full reload forgets the mark."""
    page.evaluate(f"{NO_RELOAD_MARK} = true")


def assert_not_reloaded(page):
    assert page.evaluate(f"{NO_RELOAD_MARK} === true"), "the page was reloaded"


def bitbucket_buttons(page):
    return page.get_by_role("link", name=BITBUCKET_BUTTON)


# ---------------------------------------------------------------------- journeys


def test_editor_sets_up_bitbucket_and_a_visitor_logs_in_with_it(
    site, new_context, bitbucket, shoot
):
    editor = new_context().new_page()
    editor.goto(site("/editor"))
    expect(editor.get_by_role("heading", name="Log in")).to_be_visible()
    shoot(editor, "editor-01-sign-in")
    editor.get_by_label("Username").fill("editor")
    editor.get_by_label("Password").fill("editor")
    editor.get_by_role("button", name="Log in", exact=True).click()
    editor.wait_for_url(site("/editor"))

    dialog = open_login_setting(editor, site, shoot)
    shoot(editor, "editor-05-login-setting")
    expect(dialog.get_by_label("Callback URL to register at Bitbucket")).to_have_value(
        site.callback_url
    )

    fill_bitbucket_tab(editor)
    shoot(editor, "editor-06-bitbucket-tab-filled")

    # OK checks the values in place: no reload, nothing stored, the secret kept pending.
    mark_page(editor)
    press(editor, "OK")
    expect(shown(editor, "Checked. Nothing is stored yet")).to_be_visible()
    expect(editor.locator("#editor-announcer")).to_contain_text("Checked. Nothing is stored yet")
    assert_not_reloaded(editor)
    expect(editor.get_by_label("Bitbucket Client ID")).to_have_value(CLIENT_ID)
    expect(editor.get_by_label("Bitbucket Client Secret")).to_have_attribute(
        "placeholder", "secret set — leave empty to keep"
    )
    assert CLIENT_SECRET not in editor.content()
    expect(editor.get_by_role("button", name="OK", exact=True)).to_be_focused()
    shoot(editor, "editor-07-ok")

    # Apply stores the draft, still without a reload.
    press(editor, "Apply")
    expect(shown(editor, "Draft stored.")).to_be_visible()
    expect(editor.get_by_text("Draft differs from published")).to_be_visible()
    assert_not_reloaded(editor)
    expect(editor.get_by_label("Bitbucket Client Secret")).to_have_attribute(
        "placeholder", "secret set — leave empty to keep"
    )
    shoot(editor, "editor-08-apply")

    # Preview: the login page as the draft makes it, with the Bitbucket button.
    press(editor, "Preview")
    editor.wait_for_url(site("/editor/system-pages/login/preview"))
    expect(editor.get_by_text("Preview of the draft.")).to_be_visible()
    expect(editor.get_by_text(BITBUCKET_BUTTON)).to_be_visible()
    shoot(editor, "editor-09-preview")
    editor.get_by_role("link", name="Back to the Login setting").click()
    expect(editor.get_by_role("dialog", name="Login setting")).to_be_visible()

    # Save publishes.
    press(editor, "Save")
    expect(shown(editor, "Published version 1")).to_be_visible()
    status = editor.get_by_test_id("publish-status")
    expect(status).to_contain_text("Published")
    expect(status).to_contain_text("Last published")
    expect(status).to_contain_text("by Demo Editor")
    shoot(editor, "editor-10-saved")

    # A visitor, in a browser of their own, logs in with Bitbucket.
    visitor = new_context().new_page()
    visitor.goto(site("/login"))
    expect(bitbucket_buttons(visitor)).to_be_visible()
    shoot(visitor, "visitor-01-login-page")
    bitbucket_buttons(visitor).click()
    visitor.wait_for_url(re.compile(re.escape(bitbucket.authorize_url)))
    expect(visitor.get_by_role("button", name="Grant access")).to_be_visible()
    shoot(visitor, "visitor-02-bitbucket-consent")
    visitor.get_by_role("button", name="Grant access").click()
    visitor.wait_for_url(site("/"))
    expect(visitor.locator(".user-name")).to_have_text("Ada Lovelace")
    expect(visitor.get_by_text("Signed in as")).to_be_visible()
    shoot(visitor, "visitor-03-signed-in")


def test_after_apply_only_visitors_see_no_bitbucket_button(site, editor_page, visitor_page, shoot):
    open_login_setting(editor_page, site)
    fill_bitbucket_tab(editor_page)
    press(editor_page, "Apply")
    expect(shown(editor_page, "Draft stored.")).to_be_visible()

    visitor_page.goto(site("/login"))
    expect(visitor_page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(bitbucket_buttons(visitor_page)).to_have_count(0)
    shoot(visitor_page, "draft-01-visitor-sees-no-button")

    # The draft is real: the editor's preview has the button.
    editor_page.goto(site("/editor/system-pages/login/preview"))
    expect(editor_page.get_by_text(BITBUCKET_BUTTON)).to_be_visible()

    # After Save the same visitor page shows it.
    editor_page.get_by_role("link", name="Back to the Login setting").click()
    press(editor_page, "Save")
    expect(shown(editor_page, "Published version 1")).to_be_visible()
    visitor_page.reload()
    expect(bitbucket_buttons(visitor_page)).to_be_visible()


def test_preview_pressed_while_apply_is_stored_waits_and_shows_the_applied_draft(
        site, editor_page):
    """While Apply's answer is on its way the form still holds the draft version from
    before: a Preview posted then would be refused as someone else's change. The press does
    nothing until Apply is in; pressed again it shows the applied draft."""
    open_login_setting(editor_page, site)
    fill_bitbucket_tab(editor_page)
    posts, held = [], []

    def hold_the_first_post(route):
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.post_data or "")
        if len(posts) == 1:
            held.append(route)  # Apply's answer waits until the test lets it go
        else:
            route.continue_()

    editor_page.route(lambda url: "/editor/system-pages/login/" in url, hold_the_first_post)
    press(editor_page, "Apply")
    expect(editor_page.locator("#login-settings-form")).to_have_attribute("aria-busy", "true")
    press(editor_page, "Preview")
    editor_page.wait_for_timeout(300)  # a second post would be on its way by now
    assert len(posts) == 1 and "action=apply" in posts[0], posts
    held[0].continue_()
    expect(shown(editor_page, "Draft stored.")).to_be_visible()

    press(editor_page, "Preview")
    editor_page.wait_for_url(site("/editor/system-pages/login/preview"))
    expect(editor_page.get_by_text("Preview of the draft.")).to_be_visible()
    expect(editor_page.get_by_text(BITBUCKET_BUTTON)).to_be_visible()
    assert len(posts) == 2 and "action=preview" in posts[1], posts


def test_an_empty_client_id_is_shown_by_the_field(site, editor_page, shoot):
    open_login_setting(editor_page, site)
    fill_bitbucket_tab(editor_page, client_id="")
    mark_page(editor_page)
    press(editor_page, "OK")

    client_id = editor_page.get_by_label("Bitbucket Client ID")
    error = editor_page.locator("#bitbucket-client_id-error")
    expect(error).to_have_text("Bitbucket Client ID is required to enable Bitbucket.")
    expect(client_id).to_have_attribute("aria-invalid", "true")
    expect(client_id).to_have_attribute(
        "aria-describedby", re.compile(r"\bbitbucket-client_id-error\b")
    )
    expect(client_id).to_be_focused()
    expect(editor_page.get_by_role("alert")).to_contain_text("Nothing was stored")
    # Nothing typed is lost: the secret travelled on (encrypted), the switch stays on.
    expect(enabled_switch(editor_page)).to_be_checked()
    expect(editor_page.get_by_label("Bitbucket Client Secret")).to_have_attribute(
        "placeholder", "secret set — leave empty to keep"
    )
    assert_not_reloaded(editor_page)
    shoot(editor_page, "error-01-empty-client-id")

    # The summary's link leads to the field.
    client_id.blur()
    editor_page.get_by_role("alert").get_by_role("link").click()
    expect(client_id).to_be_focused()

    # Fixing it and pressing OK again clears the error.
    client_id.fill(CLIENT_ID)
    press(editor_page, "OK")
    expect(shown(editor_page, "Checked. Nothing is stored yet")).to_be_visible()
    expect(error).to_have_count(0)


def test_the_tabs_work_with_the_keyboard_alone(make_site, new_context, shoot):
    site = make_site(extra_providers=(ExampleProvider, AnotherProvider))
    page = new_context().new_page()
    sign_in_as_editor(page, site)
    page.goto(site("/editor/system-pages/login/settings"))
    page.wait_for_load_state()

    tabs = page.get_by_role("tab")
    names = [tabs.nth(index).locator(".tab-title").text_content().strip()
             for index in range(tabs.count())]
    assert names[0] == "Bitbucket" and names[-2:] == ["Example ID", "Another Login"], names
    for index, name in enumerate(names):
        expect(tabs.nth(index)).to_have_accessible_name(name)

    # Tab from the top of the page reaches the selected tab: one stop for the whole list.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('role')") == "tab":
            break
    expect(page.locator(":focus")).to_have_accessible_name("Bitbucket")
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] != "none" and outline[1] >= 2, f"no visible focus: {outline}"

    def assert_selected(name):
        for other in names:
            tab = page.get_by_role("tab", name=other, exact=True)
            panel = page.locator("#" + tab.get_attribute("aria-controls"))
            if other == name:
                expect(tab).to_be_focused()
                expect(tab).to_have_attribute("aria-selected", "true")
                expect(tab).to_have_attribute("tabindex", "0")
                expect(panel).to_be_visible()
            else:
                expect(tab).to_have_attribute("aria-selected", "false")
                expect(tab).to_have_attribute("tabindex", "-1")
                expect(panel).to_be_hidden()

    page.keyboard.press("ArrowRight")
    assert_selected(names[1])
    page.keyboard.press("ArrowLeft")
    assert_selected("Bitbucket")
    page.keyboard.press("ArrowLeft")  # wraps round to the last
    assert_selected("Another Login")
    page.keyboard.press("ArrowRight")  # and from the last to the first
    assert_selected("Bitbucket")
    page.keyboard.press("End")
    assert_selected("Another Login")
    page.keyboard.press("Home")
    assert_selected("Bitbucket")
    # On a wide screen the list stands vertical, and says so; Up and Down move too.
    expect(page.get_by_role("tablist")).to_have_attribute("aria-orientation", "vertical")
    page.keyboard.press("ArrowDown")
    assert_selected(names[1])
    page.keyboard.press("ArrowUp")
    assert_selected("Bitbucket")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    assert_selected("Example ID")
    shoot(page, "keyboard-01-tabs")

    # Tab leaves the tab list for the open panel, then walks its fields.
    page.keyboard.press("Tab")
    expect(page.get_by_role("tabpanel", name="Example ID")).to_be_focused()
    page.keyboard.press("Tab")
    expect(enabled_switch(page)).to_be_focused()
    expect(enabled_switch(page)).to_be_checked()  # on by default: filling the tab is enough
    client_id = page.get_by_label("Example ID Client ID")
    for _ in range(10):
        page.keyboard.press("Tab")
        inside = page.evaluate("!!document.activeElement.closest('#panel-example')")
        assert inside, "focus left the open panel before reaching the Client ID"
        if page.evaluate("document.activeElement.id") == "example-client_id":
            break
    expect(client_id).to_be_focused()
    page.keyboard.type("example-key-1234")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Example ID Client Secret")).to_be_focused()
    page.keyboard.type("example-secret-1234")
    page.keyboard.press("Enter")  # the form's first button: OK
    expect(shown(page, "Checked. Nothing is stored yet")).to_be_visible()
    # The tab the editor was on stays open, with what was typed.
    expect(page.get_by_role("tab", name="Example ID")).to_have_attribute("aria-selected", "true")
    expect(client_id).to_have_value("example-key-1234")
    shoot(page, "keyboard-02-ok-on-second-tab")


def test_a_tabs_own_buttons_are_answered_in_place_too(site, editor_page, bitbucket):
    """A tab may carry buttons of its own (Verify credentials): same in-place treatment."""
    open_login_setting(editor_page, site)
    fill_bitbucket_tab(editor_page)
    verify = editor_page.get_by_role("tabpanel").get_by_role("button", name="Verify credentials")
    expect(verify).to_have_count(1)  # Bitbucket offers it (client credentials grant)
    mark_page(editor_page)
    verify.click()
    result = editor_page.locator("#bitbucket-verification")
    expect(result).to_contain_text("These credentials work")
    expect(editor_page.locator("#editor-announcer")).to_contain_text("These credentials work")
    assert_not_reloaded(editor_page)
    expect(editor_page.get_by_label("Bitbucket Client ID")).to_have_value(CLIENT_ID)


def test_every_button_works_without_javascript(site, new_context):
    page = new_context(java_script_enabled=False).new_page()
    sign_in_as_editor(page, site)
    open_login_setting(page, site)
    expect(page.get_by_role("button", name="Copy")).to_be_hidden()
    fill_bitbucket_tab(page)
    press(page, "OK")
    expect(shown(page, "Checked. Nothing is stored yet")).to_be_visible()
    press(page, "Apply")
    page.wait_for_url(re.compile(r"/editor/system-pages/login/settings\?tab=bitbucket$"))
    expect(shown(page, "Draft stored.")).to_be_visible()
    press(page, "Preview")
    page.wait_for_url(site("/editor/system-pages/login/preview"))
    expect(page.get_by_text(BITBUCKET_BUTTON)).to_be_visible()
    page.go_back()
    press(page, "Save")
    expect(shown(page, "Published version 1")).to_be_visible()


def test_the_copy_button_copies_the_callback_url(site, new_context):
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = context.new_page()
    sign_in_as_editor(page, site)
    open_login_setting(page, site)
    copy = page.get_by_role("button", name="Copy")
    copy.click()
    expect(page.locator("#editor-announcer")).to_have_text("Callback URL copied.")
    assert page.evaluate("navigator.clipboard.readText()") == site.callback_url


def test_the_editor_works_on_a_phone_screen(site, new_context, shoot):
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in_as_editor(page, site)
    open_login_setting(page, site)
    fill_bitbucket_tab(page)
    press(page, "Apply")
    expect(shown(page, "Draft stored.")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    for name in ("OK", "Apply", "Preview", "Save"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "phone-01-login-setting", full_page=False)
