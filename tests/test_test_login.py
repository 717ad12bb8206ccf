"""Test login with Bitbucket: the real round trip with the tab's values, a result page for
the editor, and nothing else (the conformance suite runs the same for every provider)."""

from __future__ import annotations

from urllib.parse import urlsplit

from cms_demo.models import User
from cms_social_login.models import AuditEvent, LinkedIdentity, LoginSettings

from .helpers import CLIENT_ID, CLIENT_SECRET, callback_path, settings_form
from .security.helpers import count, dbsession_of

RESULT = "/editor/system-pages/login/test-login"


def start_test(editor, status=302, **values):
    """Fill the Bitbucket tab with ``values`` (default: working ones) and press Test login."""
    form = settings_form(editor)
    fields = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **values}
    for key, value in fields.items():
        form[f"bitbucket.{key}"] = value
    return form.submit("action", value="test-bitbucket", status=status)


def run_test(editor, bitbucket, user=None, deny=False, **values):
    started = start_test(editor, **values)
    consent = bitbucket.deny if deny else bitbucket.approve
    back = editor.get(callback_path(consent(started.location, user=user)))
    assert back.status_int == 303 and urlsplit(back.location).path == RESULT
    return back.follow()


def shown(page, key):
    element = page.html.select_one(f'[data-testid="test-{key}"]')
    return element.get_text(" ", strip=True) if element is not None else None


def csrf_token(editor) -> str:
    return settings_form(editor)["csrf_token"].value


def test_the_result_shows_the_profile_and_nothing_is_kept(app, editor, bitbucket,
                                                        bitbucket_user):
    token_before = csrf_token(editor)
    page = run_test(editor, bitbucket)
    assert shown(page, "outcome") == ("The test login with Bitbucket worked: this is what "
                                      "Bitbucket sent.")
    assert shown(page, "name") == "Ada Lovelace"
    assert shown(page, "email") == "ada@example.org"
    assert shown(page, "id") == bitbucket_user.uuid
    assert shown(page, "rule") == "every Bitbucket account (the tab sets no rule)"
    assert "you are still signed in as yourself" in page.text
    assert CLIENT_SECRET not in page.text
    assert count(app, LinkedIdentity) == 0
    assert count(app, User) == 1
    assert count(app, LoginSettings) == 0
    with dbsession_of(app) as db:
        event = db.query(AuditEvent).one()
    assert (event.kind, event.action, event.provider) == ("editor", "test-login", "bitbucket")
    assert event.detail == {"result": "works", "from": "tab"}
    # The editor is still signed in, in the same session (an invalidated or renewed
    # session would have a new CSRF token), and the result stays on its clean URL.
    assert "Demo Editor" in editor.get("/editor").text
    assert csrf_token(editor) == token_before
    assert shown(editor.get(RESULT), "name") == "Ada Lovelace"


def test_the_workspace_rule_is_checked(app, editor, bitbucket):
    member = bitbucket.add_user("Member", nickname="member", workspaces=["acme"])
    outsider = bitbucket.add_user("Outsider", nickname="outsider", workspaces=["other"])
    passes = run_test(editor, bitbucket, user=member, allowed_workspaces="acme")
    assert shown(passes, "rule") == ("Members of the workspaces: acme — this account passes "
                                     "the rule")
    refused = run_test(editor, bitbucket, user=outsider, allowed_workspaces="acme")
    assert "the tab's rule refuses it" in shown(refused, "outcome")
    assert shown(refused, "rule") == ("Members of the workspaces: acme — this account does "
                                      "not pass the rule")
    assert count(app, LinkedIdentity) == 0


def test_a_wrong_secret_says_so(app, editor, bitbucket, bitbucket_user):
    page = run_test(editor, bitbucket, client_secret="wrong-secret-value")
    assert "Bitbucket login is not set up correctly" in shown(page, "outcome")
    assert "refused the client credentials" in page.text
    assert count(app, LinkedIdentity) == 0


def test_cancelled_at_bitbucket(app, editor, bitbucket, bitbucket_user):
    page = run_test(editor, bitbucket, deny=True)
    assert "was cancelled at Bitbucket" in shown(page, "outcome")


def test_an_incomplete_tab_is_refused_by_the_button(editor, bitbucket):
    page = start_test(editor, status=400, client_secret="")
    assert "Bitbucket Client Secret is required" in page.text
    assert not bitbucket.requests_to("authorize")


def test_the_test_state_works_once_and_only_for_the_editor(app, published_bitbucket, visitor,
                                                          bitbucket, bitbucket_user):
    editor = published_bitbucket  # Bitbucket is live: the visitors' callback checks states
    started = start_test(editor)
    location = callback_path(bitbucket.approve(started.location))
    # In another browser the state is unknown: the visitor's login fails plainly.
    stranger = visitor.get(location, status=303).follow()
    assert "expired or was already used" in stranger.text
    done = editor.get(location, status=303)
    assert done.location.endswith("/editor/system-pages/login/test-login")
    # Used once: the same callback again is not a test any more, and signs nobody in
    # (the editor, still signed in, is told the link no longer works).
    again = editor.get(location, status=303).follow()
    assert "This login link no longer works. You are still signed in." in again.text
    assert count(app, LinkedIdentity) == 0
    assert "Demo Editor" in editor.get("/editor").text


def test_the_result_page_is_for_editors(visitor):
    page = visitor.get(RESULT, status="*")
    assert page.status_int in (302, 303, 403)
