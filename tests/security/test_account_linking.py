"""A provider login never takes over an existing account, unless its owner linked it or
the editor turned on linking by confirmed email; races end with one user."""

from __future__ import annotations

import threading

from sqlalchemy import select

from cms_demo.models import User
from cms_social_login.models import LinkedIdentity

from ..helpers import callback_path, settings_form, start_login
from .helpers import count, dbsession_of


def add_local_user(app, username, email):
    with dbsession_of(app) as db:
        user = User(username=username, display_name=username.title(), email=email)
        user.set_password("pw-" + username)
        db.add(user)
        db.commit()
        return str(user.id)


def save_with_options(editor, **options):
    form = settings_form(editor)
    form["bitbucket.enabled"] = True
    form["bitbucket.client_id"] = "bbKey1234567890abcd"
    form["bitbucket.client_secret"] = "bbSecret-s3cr3t-XYZ-0123456789abcdef"
    for name, value in options.items():
        form[f"bitbucket.{name}"] = value
    return form.submit("action", value="save").follow()


def test_same_email_does_not_take_over_an_account_by_default(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    victim = add_local_user(app, "victim", "ada@example.org")
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    with dbsession_of(app) as db:
        identity = db.scalar(select(LinkedIdentity))
    assert identity.userid != victim
    assert count(app, User) == 3  # editor, victim, the new account


def test_linking_by_confirmed_email_when_the_editor_enables_it(
        app, editor, visitor, bitbucket, bitbucket_user):
    save_with_options(editor, link_by_email=True)
    owner = add_local_user(app, "ada-local", "ADA@example.org")
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    with dbsession_of(app) as db:
        assert db.scalar(select(LinkedIdentity.userid)) == owner
    assert count(app, User) == 2


def test_unconfirmed_email_never_links(app, editor, visitor, bitbucket):
    save_with_options(editor, link_by_email=True)
    owner = add_local_user(app, "owner", "mallory@example.org")
    mallory = bitbucket.add_user("Mallory", emails=[
        {"email": "mallory@example.org", "is_primary": False, "is_confirmed": False},
        {"email": "m2@example.org", "is_primary": True, "is_confirmed": True}])
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor), user=mallory)))
    assert back.location == "http://localhost/"  # signed in: a new account, not the owner's
    with dbsession_of(app) as db:
        [userid] = db.scalars(select(LinkedIdentity.userid)).all()
    assert userid != owner
    assert count(app, User) == 3  # editor, owner, Mallory's new account


def test_the_signed_in_owner_links_their_account(app, published_bitbucket, bitbucket,
                                                 bitbucket_user):
    editor = published_bitbucket
    editor.get(callback_path(bitbucket.approve(start_login(editor)))).follow()
    with dbsession_of(app) as db:
        editor_id = db.scalar(select(User.id).where(User.username == "editor"))
        assert db.scalar(select(LinkedIdentity.userid)) == str(editor_id)
    assert count(app, User) == 1


def test_two_callbacks_for_one_new_account_at_once_make_one_user(
        app, published_bitbucket, make_browser, bitbucket, bitbucket_user):
    browsers = [make_browser() for _ in range(2)]
    locations = [bitbucket.approve(start_login(b)) for b in browsers]
    # Both callbacks wait at the profile call, then race to create the account.
    bitbucket.fail("user", status=None, delay=0.3, times=2)
    results = []

    def finish(browser, location):
        results.append(browser.get(callback_path(location)).status_int)

    threads = [threading.Thread(target=finish, args=pair)
               for pair in zip(browsers, locations, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [303, 303]
    assert count(app, LinkedIdentity) == 1
    assert count(app, User) == 2  # the editor and Ada, once
    for browser in browsers:
        assert "Ada Lovelace" in browser.get("/").text


def test_many_concurrent_first_logins_all_succeed(app, published_bitbucket, make_browser,
                                                  bitbucket):
    users = [bitbucket.add_user(f"Person {i}", nickname=f"person{i}") for i in range(8)]
    browsers = [make_browser() for _ in users]
    locations = [bitbucket.approve(start_login(b), user=u) for b, u in zip(browsers, users,
                                                                           strict=True)]
    results = []

    def finish(browser, location):
        results.append(browser.get(callback_path(location), status="*").status_int)

    threads = [threading.Thread(target=finish, args=pair)
               for pair in zip(browsers, locations, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [303] * 8  # "database is locked" was retried, never shown
    assert count(app, LinkedIdentity) == 8
