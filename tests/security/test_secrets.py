"""Client secrets: encrypted at rest, never in a page, a log line or a preview; the site
refuses to start with a missing, short or demo secret key outside demo mode."""

from __future__ import annotations

import logging

import pytest
from pyramid.exceptions import ConfigurationError
from sqlalchemy import select, text

from cms_social_login.models import LoginSettings, PublishRecord
from cms_social_login.settings import DEMO_SECRET_KEY
from cms_social_login.testing import steps
from cms_social_login.testing.plugin import site_app
from cms_social_login.testing.steps import log_out

from ..helpers import (
    CLIENT_SECRET,
    callback_path,
    settings_form,
    start_login,
    submit_bitbucket,
)
from .helpers import dbsession_of

PAGES = [
    "/", "/login", "/login?came_from=/x", "/editor", "/editor/system-pages",
    "/editor/system-pages/login", "/editor/system-pages/login/settings",
    "/editor/system-pages/login/settings?tab=bitbucket", "/editor/system-pages/login/preview",
]


def test_the_secret_appears_in_no_page_and_no_log(app, published_bitbucket, visitor,
                                                  bitbucket, bitbucket_user, caplog):
    caplog.set_level(logging.DEBUG)
    editor = published_bitbucket
    bodies = [editor.get(url).text for url in PAGES]
    bodies += [visitor.get(url, status="*").text for url in PAGES]
    # OK, Apply and error re-renders keep it out too.
    form = settings_form(editor)
    form["bitbucket.client_secret"] = CLIENT_SECRET
    bodies.append(form.submit("action", value="ok").text)
    form["bitbucket.client_id"] = "bad id with spaces"
    bodies.append(form.submit("action", value="apply", status=400).text)
    # A full login, a failed one, and a logout.
    location = bitbucket.approve(start_login(visitor))
    bodies.append(visitor.get(callback_path(location)).follow().text)
    bodies.append(visitor.get(callback_path(location), status=303).follow().text)
    bodies.append(log_out(visitor).text)
    for body in bodies:
        assert CLIENT_SECRET not in body
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert CLIENT_SECRET not in logged
    token = bitbucket.requests_to("user")[0].headers["Authorization"].split()[-1]
    assert token not in logged and all(token not in body for body in bodies)


def test_the_secret_is_encrypted_at_rest(app, published_bitbucket):
    with dbsession_of(app) as db:
        raw = db.execute(text("SELECT document FROM social_login_settings")).scalars().all()
        history = db.scalars(select(PublishRecord.document)).all()
        stored = db.get(LoginSettings, ("default", "published")).document["bitbucket"]["secrets"]
    assert raw and all(CLIENT_SECRET not in str(doc) for doc in raw + history)
    assert stored["client_secret"].startswith("gAAAAA")  # a Fernet token
    box = app.registry.getUtility(__import__("cms_social_login.interfaces",
                                             fromlist=["ISecretBox"]).ISecretBox)
    assert box.decrypt(stored["client_secret"]) == CLIENT_SECRET


def test_a_changed_secret_key_fails_cleanly(app_settings, published_bitbucket, bitbucket,
                                            bitbucket_user, caplog):
    import webtest

    from cms_demo import main

    other = main({}, **{**app_settings,
                        "cms_social_login.secret_key": "another-key-" + "z" * 40})
    visitor = webtest.TestApp(other, extra_environ={"HTTP_HOST": "localhost"})
    href = next(a["href"] for a in visitor.get("/login").html.select("a.provider-button"))
    page = visitor.get(href)
    assert "not set up correctly" in page.text
    assert "cannot be decrypted" in caplog.text


@pytest.mark.parametrize("key, demo, complaint", [
    (None, False, "secret_key is required"),
    ("", False, "secret_key is required"),
    ("short-key", False, "shorter than 32"),
    (DEMO_SECRET_KEY, False, "demo key"),
    (None, True, "secret_key is required"),
])
def test_start_refuses_a_weak_secret_key(app_settings, monkeypatch, key, demo, complaint):
    from cms_demo import main

    monkeypatch.delenv("CMS_SOCIAL_LOGIN_SECRET_KEY", raising=False)
    settings = {k: v for k, v in app_settings.items() if k != "cms_social_login.secret_key"}
    if key is not None:
        settings["cms_social_login.secret_key"] = key
    if demo:
        settings["cms_social_login.demo"] = "true"
    with pytest.raises(ConfigurationError, match=complaint):
        main({}, **settings)


def test_demo_mode_runs_the_whole_story_on_the_demo_key(app_settings, bitbucket,
                                                         bitbucket_user):
    """In demo mode the demo key is accepted and does its work: the editor's session, the
    secret stored encrypted with it, and a visitor's login all run on it."""
    settings = {**app_settings, "cms_social_login.secret_key": DEMO_SECRET_KEY,
                "cms_social_login.demo": "true"}
    with site_app(settings) as app:
        editor = steps.make_browser(app)
        steps.sign_in(editor)
        submit_bitbucket(editor, "save").follow()
        visitor = steps.make_browser(app)
        location = bitbucket.approve(start_login(visitor))
        home = visitor.get(callback_path(location)).follow()
    assert "Signed in as" in home.text and "Ada Lovelace" in home.text


def test_the_environment_variable_wins(app_settings, monkeypatch):
    from cms_demo import main

    monkeypatch.setenv("CMS_SOCIAL_LOGIN_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        main({}, **app_settings)
