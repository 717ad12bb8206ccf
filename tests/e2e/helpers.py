"""What the browser tests share besides fixtures: the site's consumer at the emulator,
extra providers for the tab list, and the editor's sign-in (imported from here; the
fixtures are in ``conftest.py``)."""

from __future__ import annotations

import re
from typing import Any

from cms_social_login.providers.base import OAuth2Provider

SECRET_KEY = "e2e-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
CLIENT_ID = "e2eKey1234567890abcd"
CLIENT_SECRET = "e2eSecret-s3cr3t-XYZ-0123456789abcdef"
EDITOR = ("editor", "editor")


class ExampleProvider(OAuth2Provider):
    """A second provider, only for tests of the tab list (it never completes a login)."""

    name = "example"
    title = "Example ID"
    icon = (
        '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" width="20" height="20">'
        '<circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2.5"/>'
        "</svg>"
    )
    default_authorize_url = "http://127.0.0.1:9/authorize"
    default_token_url = "http://127.0.0.1:9/token"
    default_api_url = "http://127.0.0.1:9/api"
    setup_help = "Register an OAuth application at Example ID and paste its credentials here."

    def fetch_profile(self, token, values):  # pragma: no cover - never reached
        raise NotImplementedError


class AnotherProvider(ExampleProvider):
    """A third provider, so that Home and End differ from the arrow keys."""

    name = "another"
    title = "Another Login"


def sign_in_as_editor(page: Any, site: Any) -> None:
    """Open the editor; the site asks for the demo editor's username and password."""
    page.goto(site("/editor"))
    page.get_by_label("Username").fill(EDITOR[0])
    page.get_by_label("Password").fill(EDITOR[1])
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(site("/editor"))


# ---------------------------------------------------------------------- browser steps

def expect(target: Any) -> Any:
    """Playwright's ``expect`` (imported when a browser step runs: the test modules skip
    themselves where Playwright is missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)

BITBUCKET_BUTTON = "Log in with Bitbucket"


def open_login_setting(page, site, shoot=None, prefix="editor"):
    """Site -> System Pages -> Login -> click the Login form -> the Login setting opens."""
    expect(page.get_by_role("heading", name="Site", exact=True)).to_be_visible()
    if shoot:
        shoot(page, f"{prefix}-02-site")
    page.get_by_role("link", name="System Pages").click()
    expect(page.get_by_role("heading", name="System Pages", exact=True)).to_be_visible()
    if shoot:
        shoot(page, f"{prefix}-03-system-pages")
    page.get_by_role("link", name=re.compile(r"^Login\b")).click()
    expect(page.get_by_role("heading", name="Login", exact=True)).to_be_visible()
    if shoot:
        shoot(page, f"{prefix}-04-login-page")
    page.get_by_role("link", name="Login form").click()
    dialog = page.get_by_role("dialog", name="Login setting")
    expect(dialog).to_be_visible()
    page.wait_for_load_state()  # editor.js is deferred: wait for the enhanced dialog
    return dialog


def fill_bitbucket_tab(page, client_id=CLIENT_ID, client_secret=CLIENT_SECRET):
    """Select the Bitbucket tab, enable it, fill the key and the secret."""
    tab = page.get_by_role("tab", name="Bitbucket")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    enabled_switch(page).check()
    page.get_by_label("Bitbucket Client ID").fill(client_id)
    page.get_by_label("Bitbucket Client Secret").fill(client_secret)


def shown(page, text):
    """``text`` on the page itself (the screen reader's announcer repeats some messages)."""
    return page.locator("#main").get_by_text(text)


def enabled_switch(page):
    """The "Enabled" switch of the open tab (the hidden tabs' switches are not shown)."""
    return page.get_by_role("tabpanel").get_by_role("checkbox", name=re.compile(r"^Enabled"))


def press(page, name):
    """Click one of the dialog's buttons: OK, Apply, Preview or Save."""
    page.get_by_role("button", name=name, exact=True).click()


#: What fails the test; "moderate" and "minor" findings are printed only.
BLOCKING = {"serious", "critical"}


def check(axe, page, where: str) -> list[dict]:
    """Run axe-core on ``page``; fail on serious or critical violations, return the rest."""
    results = axe.run(page)
    # axe really looked: the page's own rules passed (an empty or unloaded page has none).
    assert len(results.response["passes"]) >= 10, f"axe checked next to nothing on {where}"
    violations = results.response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {', '.join(node['target'])}: {node['html'][:160]}" for node in v["nodes"])
        for v in violations
    )
    if violations:
        print(f"axe on {where}:\n{report}")
    assert not blocking, f"axe found serious or critical violations on {where}:\n{report}"
    return violations
