"""The history, audit, connected-accounts and German pages in a real browser: they pass
axe-core and leave screenshots for the README."""

from __future__ import annotations

import pytest

from .helpers import check, fill_bitbucket_tab, press, shown

expect = pytest.importorskip("playwright.sync_api").expect


def save_twice(page, site):
    page.goto(site("/editor/system-pages/login/settings"))
    fill_bitbucket_tab(page)
    press(page, "Save")
    expect(shown(page, "Published version 1")).to_be_visible()
    page.goto(site("/editor/system-pages/login/settings"))
    page.locator("#panel-bitbucket").get_by_label("Button order").fill("2")
    press(page, "Save")
    expect(shown(page, "Published version 2")).to_be_visible()


def test_history_and_audit_pages(site, editor_page, axe, shoot):
    page = editor_page
    save_twice(page, site)
    page.goto(site("/editor/system-pages/login/history"))
    expect(page.get_by_role("heading", name="Publish history")).to_be_visible()
    check(axe, page, "the publish history")
    shoot(page, "history-01-list")
    page.get_by_role("link", name="Open version 1").click()
    expect(page.get_by_role("button", name="Publish this version")).to_be_visible()
    check(axe, page, "a version beside the live settings")
    shoot(page, "history-02-version")
    page.get_by_role("button", name="Restore into draft").click()
    expect(shown(page, "Version 1 restored into the draft")).to_be_visible()
    # Version 2 (live) beside the draft (now version 1's settings): only what differs.
    page.goto(site("/editor/system-pages/login/history/2"))
    expect(page.get_by_role("columnheader", name="Draft")).to_be_visible()
    expect(page.get_by_role("cell", name="Button order")).to_be_visible()
    check(axe, page, "a version beside the draft and the live settings")
    shoot(page, "history-03-version-beside-draft")
    page.get_by_role("link", name="Show all settings").click()
    expect(page.get_by_role("cell", name="Bitbucket Client ID")).to_be_visible()
    page.goto(site("/editor/system-pages/login/audit"))
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.get_by_role("link", name="Download as CSV")).to_be_visible()
    check(axe, page, "the audit log")
    shoot(page, "audit-01")


def test_connected_accounts_page(site, editor_page, new_context, bitbucket, axe, shoot):
    save_twice(editor_page, site)
    page = new_context().new_page()
    page.goto(site("/login"))
    page.get_by_role("link", name="Log in with Bitbucket").click()
    page.get_by_role("button", name="Grant access").click()
    page.wait_for_url(site("/"))
    page.goto(site("/account/connections"))
    expect(page.get_by_role("heading", name="Connected accounts")).to_be_visible()
    check(axe, page, "connected accounts")
    shoot(page, "connections-01")
    # The only way in: disabled, with the reason beside it.
    expect(page.get_by_role("button", name="Disconnect Bitbucket")).to_be_disabled()
    expect(page.locator(".disconnect-reason")).to_contain_text("It is your only way to sign in")


def test_the_login_page_in_german(site, new_context, axe, shoot):
    page = new_context(locale="de-DE", extra_http_headers={
        "Accept-Language": "de-DE,de;q=0.9"}).new_page()
    page.goto(site("/login"))
    expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    check(axe, page, "the German login page")
    shoot(page, "german-01-login")


def test_a_second_provider_is_published_and_the_buttons_follow_the_set_order(
        site, editor_page, new_context, shoot):
    page = editor_page
    page.goto(site("/editor/system-pages/login/settings"))
    fill_bitbucket_tab(page)
    page.locator("#panel-bitbucket").get_by_label("Button order").fill("2")
    github = page.get_by_role("tab", name="GitHub")
    github.click()
    expect(github).to_have_attribute("aria-selected", "true")
    panel = page.locator("#panel-github")
    panel.get_by_label('Enabled: show "Log in with GitHub" on the login page').check()
    panel.get_by_label("GitHub Client ID").fill("Iv1.e2eGitHubClient")
    panel.get_by_label("GitHub Client Secret").fill("e2e-github-secret-value")
    panel.get_by_label("Button order").fill("1")
    shoot(page, "second-provider-01-github-tab")
    press(page, "Save")
    expect(shown(page, "Published version 1")).to_be_visible()

    visitor = new_context().new_page()
    visitor.goto(site("/login"))
    buttons = visitor.locator("a.provider-button")
    expect(buttons).to_have_text(["Log in with GitHub", "Log in with Bitbucket"])
    shoot(visitor, "second-provider-02-login-page")
