"""Two editors never overwrite each other silently; a publish is all or nothing."""

from __future__ import annotations

import pytest
import transaction
from pyramid.config import Configurator
from pyramid.events import NewRequest

from cms_social_login.models import DRAFT, PUBLISHED, LoginSettings, PublishRecord

from ..helpers import settings_form, submit_bitbucket
from .helpers import count, dbsession_of


@pytest.fixture
def second_editor(app, make_browser):
    browser = make_browser()
    form = browser.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    form.submit().follow()
    return browser


def test_the_second_of_two_concurrent_saves_is_told_and_changes_nothing(
        app, editor, second_editor):
    first = settings_form(editor)
    second = settings_form(second_editor)
    first["bitbucket.enabled"] = True
    first["bitbucket.client_id"] = "first-editor-key"
    first["bitbucket.client_secret"] = "first-editor-secret"
    first.submit("action", value="save").follow()
    second["bitbucket.client_id"] = "second-editor-key"
    page = second.submit("action", value="save", status=409)
    assert "Someone else changed these settings" in page.text
    # The second editor's typing is still in the form, nothing of it is stored.
    assert page.forms["login-settings-form"]["bitbucket.client_id"].value == \
        "second-editor-key"
    with dbsession_of(app) as db:
        for stage in (DRAFT, PUBLISHED):
            values = db.get(LoginSettings, ("default", stage)).document["bitbucket"]["values"]
            assert values["client_id"] == "first-editor-key"
    # After reloading, the second editor can save.
    submit_bitbucket(second_editor, "save", client_id="second-editor-key").follow()


def test_one_editor_may_apply_then_save(app, editor):
    submit_bitbucket(editor, "apply").follow()
    settings_form(editor).submit("action", value="save").follow()
    assert count(app, PublishRecord) == 1


@pytest.fixture
def failing_commits(app):
    """Make the next Save's transaction fail at commit, as a database failure would."""
    failures = []

    def on_new_request(event):
        request = event.request
        if request.method == "POST" and request.POST.get("action") == "save" and failures:
            failures.pop()

            def fail(*args):
                raise RuntimeError("database went away during commit")

            request.tm.get().addBeforeCommitHook(fail)

    config = Configurator(registry=app.registry)
    config.add_subscriber(on_new_request, NewRequest)
    config.commit()
    return failures


@pytest.mark.fresh_app  # failing_commits adds a subscriber to the site
def test_a_publish_that_fails_at_commit_leaves_the_old_version_live(
        app, published_bitbucket, failing_commits):
    with dbsession_of(app) as db:
        before = {stage: (r.version, r.document)
                  for stage in (DRAFT, PUBLISHED)
                  for r in [db.get(LoginSettings, ("default", stage))]}
    failing_commits.append(True)
    with pytest.raises(RuntimeError, match="database went away"):
        submit_bitbucket(published_bitbucket, "save", client_id="new-key-never-live")
    transaction.abort()
    with dbsession_of(app) as db:
        after = {stage: (r.version, r.document)
                 for stage in (DRAFT, PUBLISHED)
                 for r in [db.get(LoginSettings, ("default", stage))]}
    assert after == before
    assert count(app, PublishRecord) == 1
    assert "new-key-never-live" not in published_bitbucket.get(
        "/editor/system-pages/login/settings").text
