"""Every state-changing request is CSRF-checked; a missing or wrong token changes nothing."""

from __future__ import annotations

import pytest

from cms_social_login.models import LoginSettings

from ..helpers import settings_form
from .helpers import count


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
