"""Every state-changing request is CSRF-checked; a missing or wrong token changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cms_social_login.models import LinkedIdentity, LoginSettings

from ..helpers import callback_path, settings_form, start_login, submit_bitbucket
from .helpers import count, dbsession_of


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
@pytest.mark.parametrize("action", ["apply", "save"])
def test_settings_post_without_a_valid_token_changes_nothing(app, editor, token, action):
    form = settings_form(editor)
    fields = [(k, v) for k, v in form.submit_fields() if k != "csrf_token"]
    if token is not None:
        fields.append(("csrf_token", token))
    fields += [("bitbucket.enabled", "on"), ("action", action)]
    editor.post("/editor/system-pages/login/settings", fields, status=400)
    assert count(app, LoginSettings) == 0


def test_token_from_another_session_is_refused(app, editor, visitor):
    foreign = visitor.get("/login").forms[0]["csrf_token"].value
    form = settings_form(editor)
    fields = [(k, foreign if k == "csrf_token" else v) for k, v in form.submit_fields()]
    editor.post("/editor/system-pages/login/settings", fields + [("action", "apply")],
                status=400)
    assert count(app, LoginSettings) == 0


def test_password_login_needs_the_token(visitor):
    visitor.get("/login")
    visitor.post("/login", {"login": "editor", "password": "editor"}, status=400)
    assert "Signed in as" not in visitor.get("/").text


def test_valid_token_works(app, editor):
    settings_form(editor).submit("action", value="apply").follow()
    assert count(app, LoginSettings) == 1


def _forged(form_fields, token):
    """A form's own fields with its CSRF token left out (None) or replaced."""
    fields = [(k, v) for k, v in form_fields if k != "csrf_token"]
    return fields if token is None else [*fields, ("csrf_token", token)]


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_restoring_a_version_needs_the_token(app, editor, token):
    submit_bitbucket(editor, "save", client_id="first-key-1234").follow()
    submit_bitbucket(editor, "save", client_id="second-key-5678").follow()
    form = editor.get("/editor/system-pages/login/history/1").forms[0]
    fields = [*form.submit_fields(), ("action", "restore")]
    editor.post(form.action, _forged(fields, token), status=400)
    assert settings_form(editor)["bitbucket.client_id"].value == "second-key-5678"
    editor.post(form.action, fields, status=303)  # the same form with its token: restored
    assert settings_form(editor)["bitbucket.client_id"].value == "first-key-1234"


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_disconnecting_a_provider_needs_the_token(app, published_bitbucket, bitbucket,
                                                  bitbucket_user, token):
    editor = published_bitbucket  # has a password: may disconnect the link
    editor.get(callback_path(bitbucket.approve(start_login(editor)))).follow()
    with dbsession_of(app) as db:
        identity = str(db.scalar(select(LinkedIdentity.id)))
    page = editor.get("/account/connections")
    form = next(f for f in page.forms.values() if "identity" in f.fields)
    assert form["identity"].value == identity
    fields = form.submit_fields()
    editor.post("/account/connections", _forged(fields, token), status=400)
    assert count(app, LinkedIdentity) == 1
    editor.post("/account/connections", fields, status=303)  # with its token: done
    assert count(app, LinkedIdentity) == 0


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_test_login_from_the_preview_needs_the_token(app, editor, bitbucket, token):
    submit_bitbucket(editor, "apply").follow()
    preview = editor.get("/editor/system-pages/login/preview")
    form = next(f for f in preview.forms.values()
                if f.action.endswith("/test-login/bitbucket"))
    fields = form.submit_fields()
    editor.post(form.action, _forged(fields, token), status=400)
    started = editor.post(form.action, fields, status=302)  # with its token: off it goes
    assert started.location.startswith(bitbucket.authorize_url)
