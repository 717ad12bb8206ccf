"""The Verify credentials button asks Bitbucket whether the typed key and secret work, in
plain words, and stores nothing."""

from __future__ import annotations

from cms_social_login.models import LoginSettings

from .conftest import CLIENT_ID, CLIENT_SECRET, settings_form, submit_bitbucket
from .security.helpers import count


def verify(editor, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, status=200):
    page = submit_bitbucket(editor, "verify-bitbucket", client_id=client_id,
                            client_secret=client_secret, status=status)
    return page.html.find(id="bitbucket-verification").get_text(strip=True), page


def test_working_credentials(app, editor, bitbucket):
    message, page = verify(editor)
    assert message == "These credentials work: Bitbucket accepted the key and secret."
    assert bitbucket.requests_to("token")[0].form["grant_type"] == "client_credentials"
    assert bitbucket.requests_to("token")[0].headers["Authorization"].startswith("Basic ")
    assert count(app, LoginSettings) == 0
    assert CLIENT_SECRET not in page.text
    # The typed values stay in the form, the secret as ciphertext, ready to Apply.
    form = page.forms["login-settings-form"]
    assert form["bitbucket.client_id"].value == CLIENT_ID
    form.submit("action", value="apply").follow()
    assert count(app, LoginSettings) == 1


def test_refused_credentials(app, editor, bitbucket):
    message, _ = verify(editor, client_secret="wrong-secret-value")
    assert message == "Bitbucket refused this key and secret."
    assert count(app, LoginSettings) == 0


def test_unreachable_bitbucket(app, editor, bitbucket):
    timeout = app.registry.social_login_settings.http_timeout
    bitbucket.fail("token", status=None, delay=timeout + 0.5)
    message, _ = verify(editor)
    assert message.startswith("Could not reach Bitbucket")


def test_the_stored_secret_is_used_when_the_field_is_left_empty(app, editor, bitbucket):
    submit_bitbucket(editor, "apply").follow()
    message, _ = verify(editor, client_secret="")
    assert message.startswith("These credentials work")


def test_missing_values(app, editor, bitbucket):
    page = submit_bitbucket(editor, "verify-bitbucket", client_id="", status=400)
    assert "Bitbucket Client ID is required" in page.html.find(
        id="bitbucket-client_id-error").get_text()
    assert not bitbucket.requests_to("token")


def test_verifying_is_audited(editor, bitbucket):
    verify(editor)
    rows = editor.get("/editor/system-pages/login/audit").html.select("tbody tr")
    assert "Credentials checked" in rows[0].get_text()
    assert "The provider accepted the credentials" in rows[0].get_text()


def test_unknown_provider_cannot_be_verified(editor):
    fields = settings_form(editor).submit_fields() + [("action", "verify-nosuch")]
    editor.post("/editor/system-pages/login/settings", fields, status=400)
