"""The editor's story taken literally: select the tab, fill the credentials, OK, Apply,
Preview, Save, and visitors see the button. An editor who switches a provider off keeps
it off, and every step says so when a set-up provider is not shown."""

from __future__ import annotations

from cms_social_login.models import PUBLISHED, LoginSettings, PublishRecord

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    bitbucket_buttons,
    settings_form,
)
from .security.helpers import count

HIDDEN_NOTICE = "Set up but not shown to visitors"


def fill_literally(browser, action: str, status=None, **changes):
    """Fill only the two credentials (nothing else), then press ``action``."""
    form = settings_form(browser)
    form["bitbucket.client_id"] = changes.get("client_id", CLIENT_ID)
    form["bitbucket.client_secret"] = changes.get("client_secret", CLIENT_SECRET)
    return form.submit("action", value=action, status=status)


def notice(page) -> str | None:
    element = page.html.find(id="bitbucket-hidden-notice")
    return element.get_text(" ", strip=True) if element is not None else None


def tab_status(page, name: str = "bitbucket") -> str:
    return page.html.select_one(f'[data-testid="status-{name}"]').get_text(strip=True)


def test_the_literal_story_publishes_the_button(app, editor, visitor):
    checked = fill_literally(editor, "ok")
    assert "Checked." in checked.text
    assert checked.forms["login-settings-form"]["bitbucket.enabled"].checked
    assert notice(checked) is None

    applied = checked.forms["login-settings-form"].submit("action", value="apply").follow()
    assert "Draft stored." in applied.text
    assert tab_status(applied) == "Draft changes"

    preview = applied.forms["login-settings-form"].submit("action", value="preview").follow()
    assert bitbucket_buttons(preview)

    dialog = preview.click("Back to the Login setting")
    saved = dialog.forms["login-settings-form"].submit("action", value="save").follow()
    assert "Published version 1. Visitors now see: Log in with Bitbucket, username and " \
           "password." in saved.text
    assert tab_status(saved) == "Live"
    assert bitbucket_buttons(visitor.get("/login"))


def test_an_editor_who_switches_it_off_keeps_it_off(app, editor, visitor):
    fill_literally(editor, "save").follow()
    form = settings_form(editor)
    form["bitbucket.enabled"] = False
    saved = form.submit("action", value="save").follow()
    assert "Visitors now see: username and password." in saved.text
    assert not bitbucket_buttons(visitor.get("/login"))
    assert HIDDEN_NOTICE in notice(saved)
    assert tab_status(saved) == "Set up, not shown"

    # Typing a new secret later does not switch it back on.
    again = fill_literally(editor, "save", client_secret="another-s3cret-value").follow()
    assert not bitbucket_buttons(visitor.get("/login"))
    assert HIDDEN_NOTICE in notice(again)
    assert not again.forms["login-settings-form"]["bitbucket.enabled"].checked


def test_switched_off_on_first_fill_stays_off(app, editor, visitor):
    form = settings_form(editor)
    form["bitbucket.enabled"] = False
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = CLIENT_SECRET
    checked = form.submit("action", value="ok")
    assert HIDDEN_NOTICE in notice(checked)
    applied = checked.forms["login-settings-form"].submit("action", value="apply").follow()
    assert HIDDEN_NOTICE in notice(applied)
    preview = applied.forms["login-settings-form"].submit("action", value="preview").follow()
    assert not bitbucket_buttons(preview)
    placeholder = preview.html.select_one(".provider-buttons-hidden")
    assert "Would be here: Bitbucket is set up but switched off" in placeholder.get_text(" ")
    saved = preview.click("Back to the Login setting").forms["login-settings-form"].submit(
        "action", value="save").follow()
    assert HIDDEN_NOTICE in notice(saved)
    assert not bitbucket_buttons(visitor.get("/login"))


def test_show_it_switches_it_on(app, editor, visitor):
    form = settings_form(editor)
    form["bitbucket.enabled"] = False
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = CLIENT_SECRET
    form.submit("action", value="save").follow()
    shown = settings_form(editor).submit("action", value="show-bitbucket")
    assert "Bitbucket is switched on: visitors see its button once you Save." in shown.text
    assert notice(shown) is None
    assert count(app, PublishRecord) == 1  # Show it stores nothing
    shown.forms["login-settings-form"].submit("action", value="save").follow()
    assert bitbucket_buttons(visitor.get("/login"))


def test_a_half_filled_tab_says_what_is_missing(app, editor):
    page = fill_literally(editor, "ok", client_secret="", status=400)
    error = page.html.find(id="bitbucket-client_secret-error")
    assert "Bitbucket Client Secret is required" in error.get_text()


def test_untouched_tabs_are_not_errors(app, editor):
    """The other tabs' switches are drawn on (they will turn on once filled), yet empty
    tabs are not refused."""
    page = fill_literally(editor, "apply").follow()
    assert "Draft stored." in page.text
    assert page.forms["login-settings-form"]["github.enabled"].checked
    assert tab_status(page, "github") == "Not set up"


def test_a_stored_set_up_but_off_provider_is_not_switched_on_by_the_next_apply(
        app, editor, visitor):
    """A document from before this rule (or an import) with credentials but off stays
    off: only a first fill turns a provider on."""
    form = settings_form(editor)
    form["bitbucket.enabled"] = False
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = CLIENT_SECRET
    form.submit("action", value="save").follow()
    with app.registry["cms_social_login.dbsession_factory"]() as db:
        for record in db.query(LoginSettings):
            document = dict(record.document)
            part = dict(document["bitbucket"])
            part.pop("enabled_choice", None)
            document["bitbucket"] = part
            record.document = document
        db.commit()
    saved = settings_form(editor).submit("action", value="save").follow()
    assert HIDDEN_NOTICE in notice(saved)
    assert not bitbucket_buttons(visitor.get("/login"))
    with app.registry["cms_social_login.dbsession_factory"]() as db:
        published = db.get(LoginSettings, ("default", PUBLISHED))
        assert published.document["bitbucket"]["enabled"] is False


def test_switching_tabs_without_javascript_keeps_typed_values(app, editor):
    form = settings_form(editor)
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = CLIENT_SECRET
    github = form.submit("action", value="tab-github")
    assert github.status_int == 200
    assert github.html.find(id="tab-github")["aria-selected"] == "true"
    assert github.html.find(id="panel-bitbucket").has_attr("hidden")
    back = github.forms["login-settings-form"].submit("action", value="tab-bitbucket")
    fields = back.forms["login-settings-form"]
    assert fields["bitbucket.client_id"].value == CLIENT_ID
    assert fields["bitbucket.client_secret.pending"].value  # the secret, encrypted
    assert CLIENT_SECRET not in back.text
    assert count(app, LoginSettings) == 0
    saved = fields.submit("action", value="save").follow()
    assert "Visitors now see: Log in with Bitbucket" in saved.text


# ---------------------------------------------------------------------- Preview is a step


def test_save_from_the_preview_publishes_exactly_the_previewed_draft(app, editor, visitor):
    preview = fill_literally(editor, "preview").follow()
    assert preview.html.find("a", string="Back to the Login setting") is not None
    saved = preview.forms[0].submit().follow()
    assert "Published version 1. Visitors now see: Log in with Bitbucket" in saved.text
    with app.registry["cms_social_login.dbsession_factory"]() as db:
        published = db.get(LoginSettings, ("default", PUBLISHED)).document
        draft = db.get(LoginSettings, ("default", "draft")).document
    assert published == draft
    assert bitbucket_buttons(visitor.get("/login"))


def test_save_from_a_stale_preview_is_refused(app, editor, make_browser, visitor):
    preview = fill_literally(editor, "preview").follow()
    # Meanwhile (another tab, another editor) the draft changes.
    fill_literally(editor, "apply", client_id="changedKey1234567890").follow()
    refused = preview.forms[0].submit(status=409)
    assert "The draft changed since this preview was shown, so nothing was published." \
        in refused.text
    assert count(app, PublishRecord) == 0
    assert not bitbucket_buttons(visitor.get("/login"))
    # The page now previews the current draft: its Save works.
    refused.forms[0].submit().follow()
    with app.registry["cms_social_login.dbsession_factory"]() as db:
        values = db.get(LoginSettings, ("default", PUBLISHED)).document["bitbucket"]["values"]
    assert values["client_id"] == "changedKey1234567890"


def test_the_preview_save_is_csrf_checked(app, editor):
    preview = fill_literally(editor, "preview").follow()
    version = preview.forms[0]["draft_version"].value
    editor.post("/editor/system-pages/login/preview", {"draft_version": version}, status=400)
    assert count(app, PublishRecord) == 0
