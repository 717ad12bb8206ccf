"""Secret key rotation: ``cms_social_login.secret_key`` lists keys, the first writes and
any reads, for client secrets, stored tokens and the session cookie. A secret no key reads
says so in the editor's tab, and visitors get the usual "not set up correctly"."""

from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from cms_demo import main
from cms_social_login.crypto import FernetSecretBox, SecretDecryptionError
from cms_social_login.interfaces import ISecretBox
from cms_social_login.testing.steps import make_browser

from ..helpers import CLIENT_SECRET, SECRET_KEY, callback_path, start_login, submit_bitbucket
from .helpers import dbsession_of

NEW_KEY = "the-new-key-of-this-site-" + "n" * 30
DROPPED_KEY = "a-key-nobody-has-any-more-" + "d" * 30


def site_with_keys(app_settings, keys: str):
    return main({}, **{**app_settings, "cms_social_login.secret_key": keys})


def stored_secret(app) -> str:
    from cms_social_login.models import LoginSettings

    with dbsession_of(app) as db:
        return db.get(LoginSettings, ("default", "published")).document["bitbucket"]["secrets"][
            "client_secret"]


def test_the_first_key_writes_and_any_key_reads():
    old, new = FernetSecretBox(SECRET_KEY), FernetSecretBox([NEW_KEY, SECRET_KEY])
    written_before = old.encrypt("s3cret")
    assert new.decrypt(written_before) == "s3cret"
    written_now = new.encrypt("s3cret")
    assert FernetSecretBox(NEW_KEY).decrypt(written_now) == "s3cret"
    with pytest.raises(SecretDecryptionError):
        old.decrypt(written_now)


def test_after_a_rotation_logins_sessions_and_secrets_keep_working(
        app_settings, published_bitbucket, bitbucket, bitbucket_user):
    # The same database, restarted with a new first key and the old one after it.
    rotated = site_with_keys(app_settings, f"{NEW_KEY} {SECRET_KEY}")
    editor = make_browser(rotated)
    for cookie in published_bitbucket.cookiejar:  # the session signed with the old key
        editor.set_cookie(cookie.name, cookie.value)
    assert "Signed in as" in editor.get("/").text
    visitor = make_browser(rotated)
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))))
    # Signed in (a refused login goes to /login): the secret written with the old key is read.
    assert back.location == "http://localhost/"
    assert "Ada Lovelace" in back.follow().text
    # The editor types the secret again: now written with the new key only.
    submit_bitbucket(editor, "save").follow()
    assert rotated.registry.getUtility(ISecretBox).decrypt(stored_secret(rotated)) \
        == CLIENT_SECRET
    with pytest.raises(SecretDecryptionError):
        FernetSecretBox(SECRET_KEY).decrypt(stored_secret(rotated))
    # Once the old key is dropped, logins work and the old cookie no longer does.
    new_only = site_with_keys(app_settings, NEW_KEY)
    visitor = make_browser(new_only)
    assert visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).location \
        == "http://localhost/"
    stale = make_browser(new_only)
    for cookie in published_bitbucket.cookiejar:
        stale.set_cookie(cookie.name, cookie.value)
    assert "Signed in as" not in stale.get("/").text


def test_a_secret_no_key_reads_is_named_in_the_tab_and_refused_to_visitors(
        app_settings, published_bitbucket, caplog):
    lost = site_with_keys(app_settings, f"{NEW_KEY} {DROPPED_KEY}")
    editor = make_browser(lost)
    form = editor.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    form.submit()
    tab = editor.get("/editor/system-pages/login/settings?tab=bitbucket")
    message = " ".join(p.get_text(" ", strip=True) for p in tab.html.select(".field-error"))
    assert "The stored secret cannot be read with this site's secret keys" in message
    assert "Type it again" in message
    visitor = make_browser(lost)
    href = next(a["href"] for a in visitor.get("/login").html.select("a.provider-button"))
    assert "Bitbucket login is not set up correctly on this site" in visitor.get(href).text


@pytest.mark.parametrize("keys", [f"{NEW_KEY} short", f"{SECRET_KEY} " + "x" * 31])
def test_every_key_of_the_list_must_be_long(app_settings, keys):
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        site_with_keys(app_settings, keys)
