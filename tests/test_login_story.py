"""The core story over HTTP: an editor sets Bitbucket up, a visitor logs in with it."""

from __future__ import annotations

from sqlalchemy import func, select

from cms_demo.models import User
from cms_social_login.models import DRAFT, PUBLISHED, LinkedIdentity, LoginSettings
from cms_social_login.testing import steps

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    bitbucket_buttons,
    callback_path,
    query_of,
    settings_form,
    start_login,
    submit_bitbucket,
)


def dbsession_of(app):
    return app.registry["cms_social_login.dbsession_factory"]()


def count(app, model) -> int:
    with dbsession_of(app) as db:
        return db.scalar(select(func.count()).select_from(model))


def test_editor_reaches_the_login_setting_through_the_editor(editor):
    site = editor.get("/editor")
    system_pages = site.click("System Pages")
    login_page = system_pages.click("Login", href="/editor/system-pages/login$")
    assert "Login form" in login_page.text
    dialog = login_page.click(href="/editor/system-pages/login/settings")
    assert "Login setting" in dialog.text
    tab = dialog.html.select_one('[role="tab"]')
    assert tab.select_one(".tab-title").get_text(strip=True) == "Bitbucket"
    for label in ("Bitbucket Client ID", "Bitbucket Client Secret"):
        element = next(tag for tag in dialog.html.find_all("label") if label in tag.get_text())
        assert dialog.html.find(id=element["for"]) is not None
    assert "http://localhost/login/bitbucket/callback" in dialog.text
    for button in ("OK", "Apply", "Preview", "Save"):
        assert dialog.html.find("button", string=button) is not None


def test_whole_story(app, editor, visitor, make_browser, bitbucket, bitbucket_user):
    # OK checks the tab and keeps the values in the form, storing nothing.
    checked = submit_bitbucket(editor, "ok")
    assert "Checked. Nothing is stored yet" in checked.text
    assert checked.forms["login-settings-form"]["bitbucket.client_id"].value == CLIENT_ID
    assert CLIENT_SECRET not in checked.text
    assert count(app, LoginSettings) == 0

    # Apply stores the draft from the OK'd form (the secret travelled encrypted).
    applied = checked.forms["login-settings-form"].submit("action", value="apply").follow()
    assert "Draft stored" in applied.text
    assert "Draft differs from published" in applied.text
    with dbsession_of(app) as db:
        draft = db.get(LoginSettings, ("default", DRAFT))
        assert draft.document["bitbucket"]["values"]["client_id"] == CLIENT_ID
        assert CLIENT_SECRET not in str(draft.document)
        assert db.get(LoginSettings, ("default", PUBLISHED)) is None
    assert not bitbucket_buttons(visitor.get("/login"))

    # Preview shows the draft's button; the live page still has none.
    preview = editor.get("/editor/system-pages/login/preview")
    assert "Preview of the draft" in preview.text
    assert bitbucket_buttons(preview)
    assert not bitbucket_buttons(visitor.get("/login"))

    # Save publishes.
    saved = settings_form(editor).submit("action", value="save").follow()
    assert "Published version 1" in saved.text
    assert "Last published" in saved.text and "Demo Editor" in saved.text
    assert bitbucket_buttons(visitor.get("/login"))

    # A visitor logs in with Bitbucket and lands back signed in as a new user.
    authorize = start_login(visitor, came_from="/")
    params = query_of(authorize)
    assert authorize.startswith(bitbucket.authorize_url)
    assert params["client_id"] == CLIENT_ID and params["response_type"] == "code"
    assert params["redirect_uri"] == "http://localhost/login/bitbucket/callback"
    back = visitor.get(callback_path(bitbucket.approve(authorize)))
    assert back.status_int == 303
    home = back.follow()
    assert "Signed in as" in home.text and "Ada Lovelace" in home.text
    token_call = bitbucket.requests_to("token")[0]
    assert token_call.headers["Authorization"].startswith("Basic ")
    assert all(r.headers["Authorization"].startswith("Bearer ")
               for r in bitbucket.log if r.endpoint in ("user", "emails"))
    with dbsession_of(app) as db:
        user = db.scalar(select(User).where(User.username == "ada"))
        assert user.display_name == "Ada Lovelace"
        assert user.email == "ada@example.org"  # the primary confirmed one, not the first
        identity = db.scalar(select(LinkedIdentity))
        assert identity.provider_user_id == bitbucket_user.uuid
        assert identity.userid == str(user.id)

    # A second login, in another browser, finds the same user.
    again = make_browser()
    again.get(callback_path(bitbucket.approve(start_login(again)))).follow()
    assert "Ada Lovelace" in again.get("/").text
    assert count(app, User) == 2  # the editor and Ada
    assert count(app, LinkedIdentity) == 1


def test_changing_the_draft_after_publishing_leaves_the_live_login_alone(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    submit_bitbucket(published_bitbucket, "apply", enabled=False).follow()
    assert bitbucket_buttons(visitor.get("/login"))
    assert not bitbucket_buttons(published_bitbucket.get("/editor/system-pages/login/preview"))
    # The live login still works with the published values.
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))))
    assert "Ada Lovelace" in back.follow().text
    # The next Save makes the draft live.
    settings_form(published_bitbucket).submit("action", value="save").follow()
    assert not bitbucket_buttons(visitor.get("/login"))


def test_leaving_the_secret_empty_keeps_it(app, published_bitbucket, visitor, bitbucket,
                                           bitbucket_user):
    page = settings_form(published_bitbucket)
    assert page["bitbucket.client_secret"].value == ""
    page_html = published_bitbucket.get("/editor/system-pages/login/settings").text
    assert "secret set — leave empty to keep" in page_html
    assert CLIENT_SECRET not in page_html
    submit_bitbucket(published_bitbucket, "save", client_secret="").follow()
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))))
    assert "Ada Lovelace" in back.follow().text


def test_wrong_client_secret_at_bitbucket(app, editor, visitor, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save", client_secret="not-the-right-secret").follow()
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))), status=303)
    assert back.location == "http://localhost/login"  # no code or state left in the URL
    back = back.follow()
    assert "Bitbucket login is not set up correctly on this site" in back.text
    assert "Traceback" not in back.text
    assert count(app, LinkedIdentity) == 0
    assert count(app, User) == 1


def test_denied_consent(app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    back = visitor.get(callback_path(bitbucket.deny(start_login(visitor)))).follow()
    assert "The Bitbucket login was cancelled" in back.text
    assert "The Bitbucket login was cancelled" not in visitor.get("/login").text  # once
    assert count(app, LinkedIdentity) == 0
    assert "Signed in as" not in visitor.get("/").text


def test_bad_state(app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    forged = location.replace("state=", "state=x")
    back = visitor.get(callback_path(forged), status=303).follow()
    assert "This login link has expired or was already used" in back.text
    assert count(app, LinkedIdentity) == 0


def test_reused_state(app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    visitor.get(callback_path(location)).follow()
    steps.log_out(visitor)
    replay = visitor.get(callback_path(location), status=303).follow()
    assert "This login link has expired or was already used" in replay.text
    assert "Signed in as" not in visitor.get("/").text


def test_state_from_another_browser(app, published_bitbucket, visitor, make_browser,
                                    bitbucket, bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    attacker = make_browser()
    back = attacker.get(callback_path(location), status=303).follow()
    assert "This login link has expired or was already used" in back.text
    assert count(app, LinkedIdentity) == 0


def test_the_pages_styles_and_script_are_served(visitor, editor):
    page = visitor.get("/login")
    css = page.html.find("link", rel="stylesheet")["href"]
    assert visitor.get(css).content_type == "text/css"
    settings = editor.get("/editor/system-pages/login/settings")
    script = settings.html.find("script")["src"]
    assert "tablist" in editor.get(script).text
