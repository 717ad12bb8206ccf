"""A signed-in user sees their linked providers, connects another and disconnects one, but
never the last way to sign in."""

from __future__ import annotations

from sqlalchemy import select

from cms_social_login.models import LinkedIdentity

from .conftest import callback_path, start_login
from .security.helpers import count, dbsession_of

PAGE = "/account/connections"


def sign_in_with_bitbucket(browser, bitbucket):
    browser.get(callback_path(bitbucket.approve(start_login(browser)))).follow()


def test_a_member_sees_their_link_and_cannot_remove_the_last_one(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    sign_in_with_bitbucket(visitor, bitbucket)
    page = visitor.get(PAGE)
    assert "Bitbucket" in page.text and "Ada Lovelace" in page.text
    refused = page.forms[0].submit(status=409)
    assert "This is your only way to sign in" in refused.text
    assert count(app, LinkedIdentity) == 1


def test_an_account_with_a_password_may_disconnect(app, published_bitbucket, bitbucket,
                                                   bitbucket_user):
    editor = published_bitbucket
    page = editor.get(PAGE)
    assert "No provider is connected" in page.text
    connect = next(a for a in page.html.select("a.provider-button")
                   if "Connect Bitbucket" in a.get_text())
    authorize = editor.get(connect["href"]).location
    back = editor.get(callback_path(bitbucket.approve(authorize)))
    assert back.location.endswith(PAGE)
    page = back.follow()
    assert "Ada Lovelace" in page.text
    done = page.forms[0].submit().follow()
    assert "Bitbucket is disconnected from your account" in done.text
    assert count(app, LinkedIdentity) == 0


def test_a_provider_account_of_someone_else_cannot_be_connected(
        app, published_bitbucket, make_browser, bitbucket, bitbucket_user):
    member = make_browser()
    sign_in_with_bitbucket(member, bitbucket)
    editor = published_bitbucket
    page = editor.get(callback_path(bitbucket.approve(start_login(editor)))).follow()
    assert "already connected to another account" in page.text
    with dbsession_of(app) as db:
        assert db.scalar(select(LinkedIdentity.userid)) != "1"
    assert "Demo Editor" in editor.get("/").text  # still signed in as themself


def test_only_own_links_can_be_removed(app, published_bitbucket, make_browser, bitbucket,
                                       bitbucket_user):
    member = make_browser()
    sign_in_with_bitbucket(member, bitbucket)
    with dbsession_of(app) as db:
        identity_id = db.scalar(select(LinkedIdentity.id))
    editor = published_bitbucket
    token = editor.get(PAGE).forms  # noqa: F841 - the page renders for the editor
    csrf = editor.get("/login").forms[0]["csrf_token"].value
    for value in (str(identity_id), "x", "999"):
        editor.post(PAGE, {"csrf_token": csrf, "identity": value}, status=400)
    assert count(app, LinkedIdentity) == 1


def test_anonymous_visitors_are_sent_to_log_in(visitor):
    assert "/login?came_from=" in visitor.get(PAGE, status=303).location
