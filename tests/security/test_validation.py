"""Bad editor input is refused with a message by the field, or a 400; nothing half-written
reaches the draft."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cms_social_login.models import DRAFT, LoginSettings

from ..helpers import CLIENT_ID, settings_form, submit_bitbucket
from .helpers import count, dbsession_of

URL = "/editor/system-pages/login/settings"


def draft_document(app):
    with dbsession_of(app) as db:
        record = db.get(LoginSettings, ("default", DRAFT))
        return record.document if record else None


def test_values_are_trimmed(app, editor):
    submit_bitbucket(editor, "apply", client_id=f"  {CLIENT_ID}\t").follow()
    assert draft_document(app)["bitbucket"]["values"]["client_id"] == CLIENT_ID


@pytest.mark.parametrize("field, value, message", [
    ("client_id", "", "Bitbucket Client ID is required to enable Bitbucket."),
    ("client_id", "has spaces in it", "Paste the key exactly as shown"),
    ("client_id", "x" * 256, "at most 255 characters"),
    ("client_id", "abc\x00def", "control characters"),
    ("client_secret", "", "Bitbucket Client Secret is required to enable Bitbucket."),
    ("client_secret", "two words here", "Paste the secret exactly as shown"),
    ("client_secret", "s" * 300, "at most 255 characters"),
])
def test_bad_values_show_a_message_by_the_field(app, editor, field, value, message):
    form = settings_form(editor)
    form["bitbucket.enabled"] = True
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = "good-secret-value"
    form[f"bitbucket.{field}"] = value
    page = form.submit("action", value="apply", status=400)
    error = page.html.find(id=f"bitbucket-{field}-error")
    assert error is not None and message in error.get_text()
    assert page.html.find(id=f"bitbucket-{field}")["aria-invalid"] == "true"
    assert "Nothing was stored" in page.text
    # The editor's other values are kept in the form.
    if field != "client_id":
        assert page.forms["login-settings-form"]["bitbucket.client_id"].value == CLIENT_ID
    assert count(app, LoginSettings) == 0


def test_a_bad_value_keeps_the_stored_draft_untouched(app, editor):
    submit_bitbucket(editor, "apply").follow()
    before = draft_document(app)
    submit_bitbucket(editor, "apply", client_id="bad key", status=400)
    assert draft_document(app) == before


def test_a_disabled_provider_may_be_incomplete(app, editor):
    submit_bitbucket(editor, "apply", enabled=False, client_id="", client_secret="").follow()
    assert draft_document(app)["bitbucket"]["enabled"] is False


@pytest.mark.parametrize("extra", [
    [("unknown_field", "x")],
    [("nosuch.client_id", "x")],
    [("bitbucket.client_id.pending", "x")],
    [("bitbucket.is_admin", "on")],
])
def test_unknown_fields_are_refused(app, editor, extra):
    fields = settings_form(editor).submit_fields() + extra + [("action", "apply")]
    editor.post(URL, fields, status=400)
    assert count(app, LoginSettings) == 0


@pytest.mark.parametrize("action", ["", "publish", "delete", "OK"])
def test_unknown_actions_are_refused(app, editor, action):
    fields = settings_form(editor).submit_fields() + [("action", action)]
    editor.post(URL, fields, status=400)
    assert count(app, LoginSettings) == 0


@pytest.mark.parametrize("version", ["", "x", "1.5"])
def test_a_missing_or_garbled_version_is_refused(app, editor, version):
    fields = [(k, version if k == "draft_version" else v)
              for k, v in settings_form(editor).submit_fields()]
    editor.post(URL, fields + [("action", "apply")], status=400)
    assert count(app, LoginSettings) == 0


def test_oversized_bodies_are_refused(app, editor):
    fields = settings_form(editor).submit_fields()
    fields = [(k, "x" * 70_000 if k == "bitbucket.client_id" else v) for k, v in fields]
    page = editor.post(URL, fields + [("action", "apply")], status=400)
    # Refused for its size, before any field is read (the field's own 255-character
    # check would refuse it with a 400 too).
    assert "The form is too large." in page.text
    assert "at most 255 characters" not in page.text
    assert count(app, LoginSettings) == 0


def test_bad_button_order(app, editor):
    form = settings_form(editor)
    form["bitbucket.position"] = "-3"
    page = form.submit("action", value="apply", status=400)
    assert "Button order must be a whole number" in page.html.find(
        id="bitbucket-position-error").get_text()
    assert count(app, LoginSettings) == 0


def test_no_user_input_reaches_the_draft_on_ok(app, editor):
    submit_bitbucket(editor, "ok")
    with dbsession_of(app) as db:
        assert db.scalars(select(LoginSettings)).all() == []
