"""Every editor page on a phone (390 px wide): nothing scrolls sideways, data tables stack
one record under the other (each value with its column's name), and the breadcrumbs wrap
instead of being cut off."""

from __future__ import annotations

import re

import pytest

from cms_social_login.testing.steps import fill_tab, make_browser, sign_in

from .helpers import CLIENT_ID, CLIENT_SECRET, sign_in_as_editor

expect = pytest.importorskip("playwright.sync_api").expect

PHONE = {"width": 390, "height": 844}
EDITOR_PAGES = (
    "/editor",
    "/editor/system-pages",
    "/editor/system-pages/login",
    "/editor/system-pages/login/settings?tab=bitbucket",
    "/editor/system-pages/login/settings?tab=oidc",
    "/editor/system-pages/login/preview",
    "/editor/system-pages/login/history",
    "/editor/system-pages/login/history/1",
    "/editor/system-pages/login/history/2",
    "/editor/system-pages/login/audit",
    "/editor/system-pages/login/test-login",
)


def publish_twice(site) -> None:
    """Two published versions and some audit rows, so every table has rows."""
    editor = make_browser(site.app)
    sign_in(editor)
    fill_tab(editor, "bitbucket", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
             "save")
    fill_tab(editor, "bitbucket", {"allowed_workspaces": "acme-engineering, acme-design"},
             "save")
    fill_tab(editor, "bitbucket", {"client_id": CLIENT_ID + "x"}, "apply")


def test_no_editor_page_scrolls_sideways_on_a_phone(site, new_context, shoot):
    publish_twice(site)
    page = new_context(viewport=PHONE).new_page()
    sign_in_as_editor(page, site)
    for path in EDITOR_PAGES:
        page.goto(site(path))
        width = page.evaluate("document.scrollingElement.scrollWidth")
        name = re.sub(r"\W+", "-", path.strip("/"))
        if width > PHONE["width"]:
            shoot(page, f"phone-too-wide-{name}")
        assert width <= PHONE["width"], f"{path} is {width}px wide on a 390px screen"
        if path != "/editor/system-pages/login/preview":  # the preview has no editor bar
            expect(page.locator(".breadcrumbs li").last).to_be_in_viewport(ratio=1)

    page.goto(site("/editor/system-pages/login/history"))
    first = page.locator(".history-table tbody tr").first
    for target in (first.get_by_role("link", name=re.compile(r"^Open version \d+$")),
                   first.locator('td[data-label="What changed"]')):
        target.scroll_into_view_if_needed()
        expect(target).to_be_in_viewport(ratio=1)
    shoot(page, "phone-history")
