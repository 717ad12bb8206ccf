"""Each provider's status in words, in the tab list and on the Login system page, from
the draft, the published settings and the audit log (read once per page)."""

from __future__ import annotations

import re

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    callback_path,
    settings_form,
    sql_statements,
    start_login,
    submit_bitbucket,
)

SETTINGS = "/editor/system-pages/login/settings"
LOGIN_PAGE = "/editor/system-pages/login"


def tab_statuses(page) -> dict[str, str]:
    return {tab["data-tab"]: tab.select_one(".tab-status").get_text(strip=True)
            for tab in page.html.select('[role="tab"]')}


def page_status(page, name: str) -> str:
    return page.html.select_one(f'[data-testid="page-status-{name}"]').get_text(strip=True)


def activity(page, name: str) -> str:
    row = page.html.select_one(f'[data-testid="page-status-{name}"]').find_parent("tr")
    return row.find_all("td")[-1].get_text(" ", strip=True)


def sign_in(make_browser, bitbucket) -> None:
    visitor = make_browser()
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))))
    assert back.location == "http://localhost/"  # signed in (a failure goes to /login)


def test_the_words_follow_the_settings(editor, visitor):
    assert set(tab_statuses(editor.get(SETTINGS)).values()) == {"Not set up"}
    submit_bitbucket(editor, "apply").follow()
    assert tab_statuses(editor.get(SETTINGS))["bitbucket"] == "Draft changes"
    submit_bitbucket(editor, "save").follow()
    assert tab_statuses(editor.get(SETTINGS))["bitbucket"] == "Live"
    assert page_status(editor.get(LOGIN_PAGE), "bitbucket") == "Live"
    submit_bitbucket(editor, "apply", client_id="otherKey1234567890").follow()
    assert tab_statuses(editor.get(SETTINGS))["bitbucket"] == "Draft changes"
    submit_bitbucket(editor, "save", enabled=False).follow()
    statuses = tab_statuses(editor.get(SETTINGS))
    assert statuses["bitbucket"] == "Set up, not shown"
    assert statuses["github"] == "Not set up"
    assert page_status(editor.get(LOGIN_PAGE), "bitbucket") == "Set up, not shown"


def test_sign_ins_of_the_last_seven_days_and_the_last_failure(
        editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    assert activity(editor.get(LOGIN_PAGE), "bitbucket") == "No sign-ins yet"
    sign_in(make_browser, bitbucket)
    sign_in(make_browser, bitbucket)
    text = activity(editor.get(LOGIN_PAGE), "bitbucket")
    assert re.fullmatch(r"Sign-ins in the last 7 days: 2; the last at "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text), text

    # Bitbucket stops accepting the consumer: the next sign-in fails, in words.
    visitor = make_browser()
    location = bitbucket.approve(start_login(visitor))
    bitbucket.fail("token", status=401, body={"error": "unauthorized_client",
                                              "error_description": "bad client"})
    visitor.get(callback_path(location))
    page = editor.get(SETTINGS)
    # Still live (visitors see the button), with the failure beside it.
    assert tab_statuses(page)["bitbucket"] == \
        "Live; last sign-in failed: Bitbucket refused the Client ID or Client Secret"
    assert page_status(editor.get(LOGIN_PAGE), "bitbucket").startswith(
        "Live; last sign-in failed")
    # Screen readers read the same words: they are text, not a coloured dot.
    tab = page.html.find(id="tab-bitbucket")
    assert "last sign-in failed" in tab.get_text(" ", strip=True)

    # A visitor cancelling afterwards says nothing about Bitbucket: the failure stays.
    canceller = make_browser()
    canceller.get(callback_path(bitbucket.deny(start_login(canceller))))
    assert tab_statuses(editor.get(SETTINGS))["bitbucket"].startswith(
        "Live; last sign-in failed")

    sign_in(make_browser, bitbucket)
    assert tab_statuses(editor.get(SETTINGS))["bitbucket"] == "Live"


def test_a_visitor_cancelling_is_no_failure_of_the_provider(editor, make_browser, bitbucket,
                                                           bitbucket_user):
    """Cancel at the provider is the visitor's choice: the status stays "Live" (the audit
    log still records it as "Cancelled at the provider")."""
    submit_bitbucket(editor, "save").follow()
    sign_in(make_browser, bitbucket)
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.deny(start_login(visitor))))
    assert tab_statuses(editor.get(SETTINGS))["bitbucket"] == "Live"
    assert page_status(editor.get(LOGIN_PAGE), "bitbucket") == "Live"
    assert "Cancelled at the provider" in editor.get(
        "/editor/system-pages/login/audit").text


def audit_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "social_login_audit" in s and s.startswith("SELECT")]


def test_one_audit_query_per_page_however_many_providers(
        app, editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    sign_in(make_browser, bitbucket)
    form = settings_form(editor, "github")
    form["github.client_id"] = CLIENT_ID
    form["github.client_secret"] = CLIENT_SECRET
    form.submit("action", value="save").follow()
    for path in (SETTINGS, LOGIN_PAGE):
        with sql_statements(app) as statements:
            editor.get(path)
        assert len(audit_reads(statements)) == 1, (path, statements)
