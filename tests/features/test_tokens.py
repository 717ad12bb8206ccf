"""Token storage (``cms_social_login.store_tokens``) and ``request.social_token(provider)``.

Site code reaches the token through a small test-only view added to the demo site, the
way a host's own view would call ``request.social_token("bitbucket")``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import requests
from pyramid.config import Configurator
from sqlalchemy import select, update

from cms_social_login.interfaces import ISecretBox
from cms_social_login.models import LinkedIdentity, StoredToken
from cms_social_login.models.records import utcnow
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.services import tokens as tokens_module

from ..helpers import CLIENT_ID, CLIENT_SECRET, callback_path, endpoints_of, start_login
from ..security.helpers import count, dbsession_of

#: The tests add a view to the site (:func:`site`) and patch a provider object: each gets a
#: site of its own, not the session's reused one.
pytestmark = pytest.mark.fresh_app

TOKEN_PATH = "/_test/social-token/bitbucket"


@pytest.fixture
def store_tokens():
    """The value of ``cms_social_login.store_tokens`` (on in this module)."""
    return "true"


@pytest.fixture
def app_settings(app_settings, store_tokens):
    return {**app_settings, "cms_social_login.store_tokens": store_tokens}


def token_view(request):
    """What a host's view does: ask for the signed-in user's token."""
    force = request.params.get("force") == "1"
    return {"token": request.social_token(request.matchdict["provider"],
                                          force_refresh=force)}


@pytest.fixture
def site(app):
    """The demo site plus the test-only view ``/_test/social-token/{provider}``."""
    config = Configurator(registry=app.registry)
    config.add_route("test.social_token", "/_test/social-token/{provider}")
    config.add_view(token_view, route_name="test.social_token", renderer="json")
    config.commit()
    return app


@pytest.fixture
def signed_in(site, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """The visitor, logged in with Bitbucket as Ada."""
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))))
    assert back.location == "http://localhost/"  # signed in (a failure goes to /login)
    return visitor


def stored_row(app) -> StoredToken | None:
    with dbsession_of(app) as db:
        return db.scalar(select(StoredToken))


def box_of(app) -> ISecretBox:
    return app.registry.getUtility(ISecretBox)


def issued_tokens(bitbucket, user):
    """The emulator's access tokens of ``user``, oldest first."""
    return [t for t in bitbucket.tokens.values() if t.user_id == user.uuid]


def api_status(bitbucket, token: str) -> int:
    return requests.get(f"{bitbucket.api_url}/user", timeout=5,
                        headers={"Authorization": f"Bearer {token}"}).status_code


def refresh_at_bitbucket(bitbucket, refresh_token: str) -> requests.Response:
    return requests.post(bitbucket.token_url, timeout=5, auth=(CLIENT_ID, CLIENT_SECRET),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def expire_stored_token(app) -> None:
    """Time passes: the stored token (and the emulator's) expire."""
    with dbsession_of(app) as db:
        db.execute(update(StoredToken).values(expires_at=utcnow() - timedelta(minutes=5)))
        db.commit()


def test_login_stores_the_tokens_encrypted(signed_in, app, bitbucket, bitbucket_user):
    [issued] = issued_tokens(bitbucket, bitbucket_user)
    row = stored_row(app)
    with dbsession_of(app) as db:
        identity = db.scalar(select(LinkedIdentity))
    assert row.identity_id == identity.id
    assert issued.token not in row.access_token
    assert issued.refresh_token not in (row.refresh_token or "")
    box = box_of(app)
    assert box.decrypt(row.access_token) == issued.token
    assert box.decrypt(row.refresh_token) == issued.refresh_token
    assert row.scopes == "account email"
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
        tzinfo=utcnow().tzinfo)
    assert timedelta(seconds=7000) < expires_at - utcnow() <= timedelta(seconds=7200)


def test_a_second_login_replaces_the_stored_tokens(signed_in, app, make_browser, bitbucket,
                                                   bitbucket_user):
    again = make_browser()
    again.get(callback_path(bitbucket.approve(start_login(again)))).follow()
    assert count(app, StoredToken) == 1
    latest = issued_tokens(bitbucket, bitbucket_user)[-1]
    assert box_of(app).decrypt(stored_row(app).access_token) == latest.token


@pytest.mark.parametrize("store_tokens", ["false"])
def test_nothing_is_stored_when_the_setting_is_off(signed_in, app):
    assert count(app, StoredToken) == 0
    assert signed_in.get(TOKEN_PATH).json == {"token": None}


def test_social_token_gives_the_signed_in_users_token(signed_in, app, bitbucket,
                                                      bitbucket_user, make_browser):
    [issued] = issued_tokens(bitbucket, bitbucket_user)
    token = signed_in.get(TOKEN_PATH).json["token"]
    assert token == issued.token
    assert api_status(bitbucket, token) == 200
    # No refresh was needed.
    assert [r.form.get("grant_type") for r in bitbucket.requests_to("token")] == [
        "authorization_code"]
    # Nobody signed in, or another provider: nothing.
    assert make_browser().get(TOKEN_PATH).json == {"token": None}
    assert signed_in.get("/_test/social-token/github").json == {"token": None}


def test_a_user_without_a_stored_token_gets_none(site, published_bitbucket):
    # The editor signed in with a password: no provider token.
    assert published_bitbucket.get(TOKEN_PATH).json == {"token": None}


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_stored(
        signed_in, app, bitbucket, bitbucket_user):
    [first] = issued_tokens(bitbucket, bitbucket_user)
    version_before = stored_row(app).version
    bitbucket.expire_tokens()
    expire_stored_token(app)
    assert api_status(bitbucket, first.token) == 401

    token = signed_in.get(TOKEN_PATH).json["token"]
    assert token and token != first.token
    assert api_status(bitbucket, token) == 200
    refreshes = [r for r in bitbucket.requests_to("token")
                 if r.form.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert refreshes[0].headers["Authorization"].startswith("Basic ")

    # Bitbucket rotated the refresh token: the old one no longer works, the new one is stored.
    old = refresh_at_bitbucket(bitbucket, first.refresh_token)
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    row = stored_row(app)
    box = box_of(app)
    [_, second] = issued_tokens(bitbucket, bitbucket_user)
    assert box.decrypt(row.access_token) == token == second.token
    assert box.decrypt(row.refresh_token) == second.refresh_token != first.refresh_token
    assert row.version > version_before

    # Fresh again: handed out without another refresh.
    calls = len(bitbucket.requests_to("token"))
    assert signed_in.get(TOKEN_PATH).json["token"] == token
    assert len(bitbucket.requests_to("token")) == calls


def test_force_refresh_renews_a_token_the_provider_no_longer_takes(
        signed_in, app, bitbucket, bitbucket_user):
    [first] = issued_tokens(bitbucket, bitbucket_user)
    first_token = signed_in.get(TOKEN_PATH).json["token"]
    bitbucket.expire_tokens()  # Bitbucket says 401; our clock still thinks it is fresh
    assert api_status(bitbucket, first_token) == 401
    token = signed_in.get(TOKEN_PATH + "?force=1").json["token"]
    assert token != first.token and api_status(bitbucket, token) == 200


def test_an_expired_refresh_token_gives_none_and_deletes_the_stored_token(
        signed_in, app, bitbucket, bitbucket_user, caplog):
    caplog.set_level(logging.INFO, logger="cms_social_login")
    [first] = issued_tokens(bitbucket, bitbucket_user)
    bitbucket.refresh_tokens[first.refresh_token].used = True  # revoked at Bitbucket
    expire_stored_token(app)

    assert signed_in.get(TOKEN_PATH).json == {"token": None}
    assert count(app, StoredToken) == 0
    assert "stored token deleted" in caplog.text and "invalid_grant" in caplog.text
    assert first.token not in caplog.text and first.refresh_token not in caplog.text
    # Still None afterwards (nothing left to refresh), and the user is still signed in.
    assert signed_in.get(TOKEN_PATH).json == {"token": None}
    assert "Signed in as" in signed_in.get("/").text


def test_bitbucket_down_during_a_refresh_keeps_the_stored_token(
        signed_in, app, bitbucket, bitbucket_user, caplog):
    caplog.set_level(logging.INFO, logger="cms_social_login")
    expire_stored_token(app)
    bitbucket.fail("token", status=503)
    assert signed_in.get(TOKEN_PATH).json == {"token": None}
    assert count(app, StoredToken) == 1
    assert "token refresh failed" in caplog.text
    # Back up: the same refresh token still works.
    token = signed_in.get(TOKEN_PATH).json["token"]
    assert token and api_status(bitbucket, token) == 200


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
        signed_in, app, make_browser, bitbucket, bitbucket_user):
    expire_stored_token(app)
    browsers = [signed_in]
    for _ in range(2):
        other = make_browser()
        for cookie in signed_in.cookiejar:
            other.set_cookie(cookie.name, cookie.value)
        browsers.append(other)
    # Bitbucket answers the first refresh slowly, so the others arrive meanwhile.
    bitbucket.fail("token", status=None, delay=0.5)
    results: list[str | None] = []
    errors: list[BaseException] = []

    def ask(browser) -> None:
        try:
            results.append(browser.get(TOKEN_PATH).json["token"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == 3 and len(set(results)) == 1 and results[0]
    refreshes = [r for r in bitbucket.requests_to("token")
                 if r.form.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert api_status(bitbucket, results[0]) == 200
    assert box_of(app).decrypt(stored_row(app).access_token) == results[0]


def test_a_refresh_that_loses_a_race_uses_the_winners_token(
        signed_in, app, bitbucket, bitbucket_user, monkeypatch):
    """The version column is the backstop: without the row lock (a database that has
    none), a write based on a stale read fails with StaleDataError and the winner's
    token is used."""
    expire_stored_token(app)
    provider = get_provider_registry(app.registry).get("bitbucket")
    real_refresh = provider.refresh
    winner: dict[str, str] = {}

    def no_lock(self, db, identity_id):
        return db.scalars(select(StoredToken).where(StoredToken.identity_id == identity_id)
                          .execution_options(populate_existing=True)).first()

    def racing_refresh(values, refresh_token):
        # Another process refreshes first and commits its tokens...
        answer = real_refresh(values, refresh_token)
        box = box_of(app)
        with dbsession_of(app) as db:
            row = db.scalar(select(StoredToken))
            row.access_token = box.encrypt(answer["access_token"])
            row.refresh_token = box.encrypt(answer["refresh_token"])
            row.expires_at = utcnow() + timedelta(hours=2)
            db.commit()
        winner["token"] = answer["access_token"]
        # ...while this one got an answer too (a provider that does not rotate).
        return {"access_token": "loser-token", "refresh_token": "loser-refresh",
                "expires_in": 7200}

    monkeypatch.setattr(tokens_module.TokenKeeper, "_lock", no_lock)
    monkeypatch.setattr(provider, "refresh", racing_refresh)
    assert signed_in.get(TOKEN_PATH).json["token"] == winner["token"]
    assert box_of(app).decrypt(stored_row(app).access_token) == winner["token"]


def test_social_token_on_a_scripting_request(signed_in, app, bitbucket, bitbucket_user):
    """Outside a web request (a job, a shell) with pyramid.scripting."""
    from pyramid.scripting import prepare

    [issued] = issued_tokens(bitbucket, bitbucket_user)
    with dbsession_of(app) as db:
        userid = db.scalar(select(LinkedIdentity.userid))
    env = prepare(registry=app.registry)
    try:
        request = env["request"]
        with request.tm:
            assert tokens_module.TokenKeeper(request).access_token(
                userid, "bitbucket") == issued.token
    finally:
        env["closer"]()


# --------------------------------------------------------------------------- GitHub's shape


class TestGitHubRefusesARefreshItsOwnWay:
    """GitHub answers a dead refresh token with HTTP 200 and ``{"error":
    "bad_refresh_token"}`` (not RFC 6749's 400 ``invalid_grant``): the GitHub provider
    reads it, so the stored token is dropped as for any refused refresh token."""

    @pytest.fixture
    def app_settings(self, app_settings, github_emulator_server):
        return {**app_settings, **endpoints_of("github", github_emulator_server)}

    def test_the_stored_token_is_dropped(self, site, editor, visitor, github_emulator,
                                         caplog):
        from cms_social_login.testing import steps
        from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET

        caplog.set_level(logging.INFO, logger="cms_social_login")
        github_emulator.expiring_tokens = True  # a GitHub App with expiring user tokens
        user = github_emulator.add_user("katherine", name="Katherine Johnson")
        github_emulator.current_user = user
        steps.fill_tab(editor, "github", {"client_id": KIT_CLIENT_ID,
                                    "client_secret": KIT_CLIENT_SECRET}, "save").follow()
        location = github_emulator.approve(steps.start_login(visitor, "github"))
        visitor.get(callback_path(location)).follow()
        row = stored_row(site)
        assert row is not None and row.refresh_token
        [issued] = [t for t in github_emulator.tokens.values() if t.user_id == str(user.id)]
        github_emulator.refresh_tokens[issued.refresh_token].used = True  # revoked
        expire_stored_token(site)

        assert visitor.get("/_test/social-token/github").json == {"token": None}
        refresh = [r for r in github_emulator.requests_to("token")
                   if r.form.get("grant_type") == "refresh_token"]
        assert len(refresh) == 1
        assert count(site, StoredToken) == 0
        assert "stored token deleted" in caplog.text
        assert issued.refresh_token not in caplog.text


def test_the_old_scopes_key_is_read_too(site, editor, visitor, bitbucket, bitbucket_user,
                                        monkeypatch):
    """Bitbucket said "scopes" before May 2026 and "scope" since; either is read."""
    from ..helpers import submit_bitbucket

    monkeypatch.setattr(bitbucket, "scope_field", "scopes")
    submit_bitbucket(editor, "save").follow()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    assert stored_row(site).scopes == "account email"
