"""The login state: random, single-use, bound to the browser, short-lived; PKCE where offered.

A pending login lives in the session of the browser that started it; the callback takes it
from there and marks the state used in the database."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from datetime import timedelta

import pytest
import webtest
from pyramid.config import Configurator
from pyramid_retry import RetryableException
from sqlalchemy import select

from cms_demo.bootstrap import setup_database
from cms_social_login.events import SocialLoginSucceeded
from cms_social_login.models import LinkedIdentity, UsedLoginState, get_social_login_engine
from cms_social_login.models.records import utcnow
from cms_social_login.providers.bitbucket import BitbucketProvider
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.redirects import MAX_CAME_FROM
from cms_social_login.services.sso import PENDING_KEY, SWEEP_INTERVAL
from cms_social_login.testing import steps
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import fill_tab

from ..helpers import callback_path, endpoints_of, query_of, start_login, submit_bitbucket
from .helpers import Clock, copy_of, count, dbsession_of, session_cookie, session_data


def demo_host(settings, before=lambda config: None, after=lambda config: None):
    """The demo host configured by hand (as cms_demo.main does), with ``before`` run ahead
    of the add-on's include and ``after`` once the host's parts are in."""
    with Configurator(settings=dict(settings)) as config:
        before(config)
        config.include("cms_demo.models")
        config.include("cms_social_login")
        config.set_social_login_dbsession("request.dbsession",
                                          session_factory=config.registry["dbsession_factory"])
        config.include("cms_demo.security")
        config.set_social_login_user_adapter("cms_demo.users.DemoUserAdapter")
        config.include("cms_demo.views")
        after(config)
        setup_database(config.registry)
    return config.make_wsgi_app()


def pending_logins(app, browser) -> list[dict]:
    """The pending logins the browser's session holds, oldest first."""
    return session_data(app, browser).get(PENDING_KEY, [])


def test_state_is_random_long_and_kept_only_as_a_hash(app, published_bitbucket, visitor,
                                                      bitbucket):
    states = {query_of(start_login(visitor))["state"] for _ in range(5)}
    assert len(states) == 5
    assert all(len(state) >= 43 for state in states)  # 32 random bytes, base64url
    kept = json.dumps(session_data(app, visitor))
    assert len(pending_logins(app, visitor)) == 5
    assert not any(state in kept for state in states)
    assert count(app, UsedLoginState) == 0  # starting a login writes nothing


def test_missing_state_signs_nobody_in(app, published_bitbucket, visitor, bitbucket,
                                       bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    code = query_of(location)["code"]
    page = visitor.get(f"/login/bitbucket/callback?code={code}", status=303).follow()
    assert "expired or was already used" in page.text
    assert count(app, LinkedIdentity) == 0
    assert not bitbucket.requests_to("token")


def test_expired_state_signs_nobody_in(app, published_bitbucket, visitor, bitbucket,
                                       bitbucket_user, monkeypatch):
    location = bitbucket.approve(start_login(visitor))
    Clock(monkeypatch).advance(11 * 60)  # state_ttl is 10 minutes
    page = visitor.get(callback_path(location), status=303).follow()
    assert "expired or was already used" in page.text
    assert count(app, LinkedIdentity) == 0
    assert not bitbucket.requests_to("token")
    assert pending_logins(app, visitor) == []  # the expired login is forgotten too


def test_a_state_works_once_even_with_a_copy_of_the_cookie(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """Someone who copied the session cookie and the callback URL before the visitor
    came back cannot complete the same login again: the state's hash is taken."""
    location = bitbucket.approve(start_login(visitor))
    thief = copy_of(app, visitor)
    visitor.get(callback_path(location), status=303).follow()
    assert "Signed in as" in visitor.get("/").text
    page = thief.get(callback_path(location), status=303).follow()
    assert "expired or was already used" in page.text
    assert "Signed in as" not in thief.get("/").text
    assert count(app, UsedLoginState) == 1


def test_two_callbacks_with_one_state_at_once_sign_in_at_most_once(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """The visitor's callback and a copy of it (the cookie and the URL) arrive together
    while the provider is slow: one state's hash is inserted, so at most one signs in.
    On PostgreSQL the state is taken before the provider call: the second request waits
    for the first's and never reaches the provider, and the first signs in. On SQLite
    both reach the provider (its write lock is not held across the call), which redeems
    the code once; whichever inserts the hash first decides."""
    back = callback_path(bitbucket.approve(start_login(visitor)))
    thief = copy_of(app, visitor)
    bitbucket.fail("token", status=None, delay=1.0, times=2)
    browsers = {"visitor": visitor, "thief": thief}
    barrier = threading.Barrier(len(browsers))
    pages = {}

    def come_back(name: str) -> None:
        barrier.wait(timeout=10)
        pages[name] = browsers[name].get(back, status=303).follow()

    threads = [threading.Thread(target=come_back, args=(name,)) for name in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert set(pages) == set(browsers)
    signed_in = [name for name, browser in browsers.items()
                 if "Signed in as" in browser.get("/").text]
    assert count(app, UsedLoginState) == 1
    assert count(app, LinkedIdentity) == len(signed_in)
    if get_social_login_engine(app.registry).dialect.name == "postgresql":
        assert len(signed_in) == 1
        assert len(bitbucket.requests_to("token")) == 1
    else:
        assert len(signed_in) <= 1
    for name in set(browsers) - set(signed_in):
        assert "You are signed in" not in pages[name].text
    assert any("expired or was already used" in page.text for page in pages.values())


@pytest.mark.fresh_app
def test_a_retried_callback_signs_in_once_with_one_provider_call(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """pyramid_retry runs a callback again after a lost race late in its transaction:
    the attempt's state insert was rolled back and its session not saved, so the next
    attempt takes the same pending login and state, and reuses the provider's answer
    (the code is single use)."""
    attempts = []

    def lose_a_race_once(event: SocialLoginSucceeded) -> None:
        attempts.append(event.userid)
        if len(attempts) == 1:
            raise RetryableException("a lost race")

    app.registry.registerHandler(lose_a_race_once, (SocialLoginSucceeded,))
    try:
        back = visitor.get(callback_path(bitbucket.approve(start_login(visitor))),
                           status=303)
    finally:
        app.registry.unregisterHandler(lose_a_race_once, (SocialLoginSucceeded,))
    assert back.location == "http://localhost/"
    assert len(attempts) == 2
    assert len(bitbucket.requests_to("token")) == 1
    assert count(app, UsedLoginState) == 1
    assert count(app, LinkedIdentity) == 1
    assert "Signed in as" in visitor.get("/").text
    assert PENDING_KEY not in session_data(app, visitor)  # a new session


def test_a_callback_of_a_provider_the_site_lacks_is_a_404(app, published_bitbucket, visitor,
                                                          bitbucket, bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    path = callback_path(location).replace("/login/bitbucket/", "/login/nosuch/")
    page = visitor.get(path, status=404)
    assert "not available" in page.text


class TestAStateIsForItsOwnProvider:
    """Bitbucket and GitHub both live: a state the site issued for Bitbucket, brought to
    GitHub's callback by the browser that started it (so only the provider check can
    refuse it), signs nobody in and never reaches GitHub's token endpoint."""

    @pytest.fixture
    def app_settings(self, app_settings, github_emulator_server):
        return {**app_settings, **endpoints_of("github", github_emulator_server)}

    def test_a_bitbucket_state_is_refused_at_the_github_callback(
            self, app, published_bitbucket, visitor, bitbucket, bitbucket_user,
            github_emulator):
        fill_tab(published_bitbucket, "github", {"client_id": KIT_CLIENT_ID,
                                                 "client_secret": KIT_CLIENT_SECRET},
                 "save").follow()
        github_emulator.current_user = github_emulator.add_user("mallory")
        bitbucket_state = query_of(bitbucket.approve(start_login(visitor)))["state"]
        github_code = query_of(github_emulator.approve(
            steps.start_login(visitor, "github")))["code"]
        page = visitor.get(f"/login/github/callback?code={github_code}&state={bitbucket_state}",
                           status=303).follow()
        assert "expired or was already used" in page.text
        assert not github_emulator.requests_to("token")
        assert count(app, LinkedIdentity) == 0


class TestAKeyRotationDuringALogin:
    """The operator puts a new secret key first (``new old``) and restarts while a
    visitor is at GitHub's consent page (GitHub checks PKCE): the verifier the callback
    derives must be the one the start sent the challenge of."""

    @pytest.fixture
    def app_settings(self, app_settings, github_emulator_server):
        return {**app_settings, **endpoints_of("github", github_emulator_server)}

    def test_a_login_started_before_the_rotation_finishes_after_it(
            self, app_settings, app, published_bitbucket, visitor, github_emulator):
        from cms_demo import main

        fill_tab(published_bitbucket, "github", {"client_id": KIT_CLIENT_ID,
                                                 "client_secret": KIT_CLIENT_SECRET},
                 "save").follow()
        github_emulator.current_user = github_emulator.add_user("ada")
        authorize_url = steps.start_login(visitor, "github")
        assert query_of(authorize_url)["code_challenge_method"] == "S256"
        back = callback_path(github_emulator.approve(authorize_url))
        old_key = app_settings["cms_social_login.secret_key"]
        rotated = main({}, **{**app_settings, "cms_social_login.secret_key":
                              "rotated-secret-key-0123456789-abcdefghijklmno " + old_key})
        try:
            returning = webtest.TestApp(rotated, extra_environ={"HTTP_HOST": "localhost"})
            returning.set_cookie("cms_session", session_cookie(visitor))
            response = returning.get(back, status=303)
            assert response.location == "http://localhost/", response.follow().text
            assert "Signed in as" in returning.get("/").text
        finally:
            rotated.registry["cms_social_login.dbsession_factory"].kw["bind"].dispose()
        assert count(app, LinkedIdentity) == 1


def app_with_the_hosts_sessions(app_settings, secret_keys: str):
    """The demo site with ``secret_keys``, whose host brings its own session factory (a
    cookie signed with a secret of the host's, not with the add-on's keys)."""
    from pyramid.session import SignedCookieSessionFactory

    settings = {**app_settings, "cms_social_login.secret_key": secret_keys}
    return demo_host(settings, before=lambda config: config.set_session_factory(
        SignedCookieSessionFactory("the host's own session secret, not the add-on's",
                                   cookie_name="host_session")))


def test_a_login_whose_secret_key_was_dropped_asks_to_start_again(
        app_settings, bitbucket, bitbucket_user):
    """A rotation rolled back: the login started while key ``x`` was first (its state
    names ``x``) comes back after ``x`` was dropped. The host's session still reads, but
    the login's PKCE verifier and nonce cannot be derived again: nobody is signed in."""
    key = app_settings["cms_social_login.secret_key"]
    rolled_back = app_with_the_hosts_sessions(app_settings, key)
    editor = webtest.TestApp(rolled_back, extra_environ={"HTTP_HOST": "localhost"})
    steps.sign_in(editor)
    submit_bitbucket(editor, "save").follow()  # the client secret, under ``key``
    rotated = app_with_the_hosts_sessions(
        app_settings, f"x-rotated-secret-key-0123456789-abcdefghijklmn {key}")
    visitor = webtest.TestApp(rotated, extra_environ={"HTTP_HOST": "localhost"})
    back = callback_path(bitbucket.approve(start_login(visitor)))
    returning = webtest.TestApp(rolled_back, extra_environ={"HTTP_HOST": "localhost"})
    returning.set_cookie("host_session", visitor.cookies["host_session"])
    page = returning.get(back, status=303).follow()
    assert "expired or was already used" in page.text
    assert "Signed in as" not in returning.get("/").text
    assert count(rolled_back, LinkedIdentity) == 0


def test_pkce_is_not_sent_to_bitbucket(published_bitbucket, visitor, bitbucket):
    params = query_of(start_login(visitor))
    assert "code_challenge" not in params


def test_bitbucket_gets_only_what_its_documentation_names(app, published_bitbucket, visitor,
                                                          bitbucket, bitbucket_user):
    """Bitbucket Cloud's OAuth 2.0 page (developer.atlassian.com/cloud/bitbucket/oauth-2)
    and BITBUCKET.md: authorize with client_id, response_type=code, an optional
    redirect_uri starting with the consumer's callback URL, and state; no scope (ticked on
    the consumer), no PKCE (undocumented). The state is RFC 6749's ``1*VSCHAR`` and, made
    of RFC 3986 unreserved characters only, comes back byte for byte: the key tag, a dot,
    43 base64url characters. The code is exchanged once, form-encoded, the client in HTTP
    Basic, with the same redirect_uri (RFC 6749 §4.1.3) and no code_verifier."""
    authorize = start_login(visitor)
    params = query_of(authorize)
    assert set(params) == {"client_id", "response_type", "redirect_uri", "state"}
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == "http://localhost/login/bitbucket/callback"
    assert re.fullmatch(r"[0-9a-f]{8}\.[A-Za-z0-9_-]{43}", params["state"])
    back = bitbucket.approve(authorize)
    assert query_of(back)["state"] == params["state"]
    visitor.get(callback_path(back)).follow()
    (token_request,) = bitbucket.requests_to("token")
    assert token_request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert set(token_request.form) == {"grant_type", "code", "redirect_uri"}
    assert token_request.form["grant_type"] == "authorization_code"
    assert token_request.form["redirect_uri"] == params["redirect_uri"]
    assert count(app, LinkedIdentity) == 1


class PkceBitbucket(BitbucketProvider):
    """Bitbucket as if it supported PKCE (the emulator checks S256 challenges)."""

    uses_pkce = True


@pytest.fixture
def pkce_app(app_settings):
    """The demo site whose host registers its own "bitbucket" provider: the host's
    configuration wins over the add-on's entry point."""
    return demo_host(app_settings, after=lambda config: config.add_social_login_provider(
        PkceBitbucket, name="bitbucket"))


def test_the_host_may_replace_a_shipped_provider(pkce_app):
    provider = get_provider_registry(pkce_app.registry).get("bitbucket")
    assert isinstance(provider, PkceBitbucket)


def test_pkce_s256_is_sent_and_verified_where_the_provider_supports_it(
        pkce_app, bitbucket, bitbucket_user):
    editor = webtest.TestApp(pkce_app, extra_environ={"HTTP_HOST": "localhost"})
    form = editor.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    form.submit().follow()
    submit_bitbucket(editor, "save").follow()
    visitor = webtest.TestApp(pkce_app, extra_environ={"HTTP_HOST": "localhost"})
    authorize = start_login(visitor)
    params = query_of(authorize)
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    visitor.get(callback_path(bitbucket.approve(authorize))).follow()
    token_form = bitbucket.requests_to("token")[0].form
    assert len(token_form["code_verifier"]) >= 43
    # The verifier is the one whose S256 challenge the start sent (the Bitbucket emulator
    # does not check PKCE: Bitbucket documents none).
    digest = hashlib.sha256(token_form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]
    assert count(pkce_app, LinkedIdentity) == 1


# ------------------------------------------------------------------ pending states per browser


def test_one_browser_holds_at_most_the_cap_of_pending_logins_and_the_newest_works(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    cap = app.registry.social_login_settings.max_pending_logins
    assert cap == 10  # the default
    authorize_urls = [visitor.get("/login/bitbucket").location for _ in range(50)]
    assert len(pending_logins(app, visitor)) == cap
    # The oldest were dropped first: the first start's state no longer works ...
    first = visitor.get(callback_path(bitbucket.approve(authorize_urls[0])), status=303)
    assert "expired or was already used" in first.follow().text
    # ... while the most recent one completes the login (back to came_from, not /login).
    last = visitor.get(callback_path(bitbucket.approve(authorize_urls[-1])))
    assert last.status_int == 303 and not last.location.endswith("/login")
    assert count(app, LinkedIdentity) == 1


def test_pending_logins_keep_the_session_cookie_within_a_browsers_limit(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """Logins started from long pages: the oldest give way before the cookie outgrows
    the 4,096 bytes a browser keeps, and the newest always works."""
    long_page = "/" + "a" * (MAX_CAME_FROM - 1)
    authorize_urls = [visitor.get("/login/bitbucket", params={"came_from": long_page}).location
                      for _ in range(3)]
    assert len(pending_logins(app, visitor)) == 1
    assert len("cms_session=" + session_cookie(visitor)) < 4096
    older = visitor.get(callback_path(bitbucket.approve(authorize_urls[1])), status=303)
    assert "expired or was already used" in older.follow().text
    newest = visitor.get(callback_path(bitbucket.approve(authorize_urls[-1])), status=303)
    assert newest.location == "http://localhost" + long_page


def cookie_fits(browser) -> bool:
    """Whether the session cookie is within the 4,096 bytes a browser keeps."""
    return len("cms_session=" + session_cookie(browser)) < 4096


def test_an_address_that_grows_in_the_cookie_still_starts_a_login(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """``came_from`` within MAX_CAME_FROM, but each '"' takes two characters in the
    session's JSON: the login starts (no 500 for a cookie too long to store) and
    comes back to the home page."""
    page = '/"' + '"' * (MAX_CAME_FROM - 2)
    authorize_url = visitor.get("/login/bitbucket", params={"came_from": page},
                                status=302).location
    assert cookie_fits(visitor)
    back = visitor.get(callback_path(bitbucket.approve(authorize_url)), status=303)
    assert back.location == "http://localhost/"
    assert "Signed in as" in visitor.get("/").text


def start_test_login(editor) -> str:
    """The editor presses Test login on the saved Bitbucket tab: the authorize URL."""
    form = steps.settings_form(editor, "bitbucket")
    return form.submit("action", value="test-bitbucket", status=302).location


def test_an_editors_test_login_and_pending_logins_share_the_cookie(
        app, published_bitbucket, bitbucket, bitbucket_user):
    """An editor's session holds a Test login's result and a pending Test login; logins
    started from long addresses on top of them give way (oldest first) before the
    cookie outgrows a browser's limit, and the newest works."""
    editor = published_bitbucket
    editor.get(callback_path(bitbucket.approve(start_test_login(editor))), status=303)
    start_test_login(editor)  # pending, with the last result still shown
    page = "/account/connections?" + "x" * 300
    authorize_urls = [editor.get("/login/bitbucket", params={"came_from": page},
                                 status=302).location for _ in range(5)]
    assert cookie_fits(editor)
    assert 1 <= len(pending_logins(app, editor)) < 5
    newest = editor.get(callback_path(bitbucket.approve(authorize_urls[-1])), status=303)
    assert newest.location == "http://localhost" + page


def test_a_test_login_started_on_top_of_pending_logins_fits_the_cookie(
        app, published_bitbucket, bitbucket, bitbucket_user):
    """The other order: pending logins from long addresses first, then a Test login
    (twice, so its result and a new pending one are both kept)."""
    editor = published_bitbucket
    for _ in range(10):
        editor.get("/login/bitbucket", params={"came_from": "/" + "x" * 400}, status=302)
    editor.get(callback_path(bitbucket.approve(start_test_login(editor))), status=303)
    start_test_login(editor)
    assert cookie_fits(editor)


def test_a_big_id_token_in_the_session_and_pending_logins_share_the_cookie(
        social_login_app, social_login_editor, social_login_visitor, oidc_emulator):
    """Signed in with OpenID Connect, the session keeps the ID token (for the logout at
    the provider); a directory's groups make it big. Logins started on top of it (to
    connect another account) give way before the cookie outgrows a browser's limit."""
    oidc_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, steps.callback_url("oidc"))
    oidc_emulator.current_user = oidc_emulator.add_user("Ada Byron", "ada@example.org")
    # 50 such groups make an ID token of about 2,000 characters; the session keeps one up
    # to MAX_KEPT_ID_TOKEN (2,400: about 65 groups), a longer one not at all.
    oidc_emulator.id_token_overrides = {"groups": [f"staff-team-{n:03d}" for n in range(50)]}
    fill_tab(social_login_editor, "oidc", {
        "issuer": oidc_emulator.issuer, "client_id": KIT_CLIENT_ID,
        "client_secret": KIT_CLIENT_SECRET}, "save").follow()
    visitor = social_login_visitor
    visitor.get(callback_path(oidc_emulator.approve(steps.start_login(visitor, "oidc"))),
                status=303)
    assert "Signed in as" in visitor.get("/").text
    held = json.dumps(session_data(social_login_app, visitor))
    assert len(held) > 1500  # the ID token
    page = "/account/connections?tab=" + "x" * 100
    authorize_urls = [visitor.get("/login/oidc", params={"came_from": page},
                                  status=302).location for _ in range(10)]
    assert cookie_fits(visitor)
    newest = visitor.get(callback_path(oidc_emulator.approve(authorize_urls[-1])),
                         status=303)
    assert newest.location == steps.SITE + page


def test_other_logins_in_progress_survive_a_failed_one(app, published_bitbucket, visitor,
                                                       bitbucket, bitbucket_user):
    first, second = start_login(visitor), start_login(visitor)
    visitor.get(callback_path(bitbucket.deny(first)), status=303)
    assert len(pending_logins(app, visitor)) == 1
    visitor.get(callback_path(bitbucket.approve(second)), status=303)
    assert "Signed in as" in visitor.get("/").text


def test_used_states_are_swept_once_they_could_no_longer_come_back(
        app, published_bitbucket, make_browser, bitbucket, bitbucket_user, monkeypatch):
    long_ago = utcnow() - timedelta(hours=1)
    with dbsession_of(app) as db:
        db.add_all(UsedLoginState(state_hash=f"{n:064x}", used_at=long_ago) for n in range(5))
        db.add(UsedLoginState(state_hash="f" * 64, used_at=utcnow()))
        db.commit()

    def log_in() -> None:
        browser = make_browser()
        browser.get(callback_path(bitbucket.approve(start_login(browser))), status=303)

    log_in()  # this process's first callback sweeps: the recent one stays
    with dbsession_of(app) as db:
        assert set(db.scalars(select(UsedLoginState.state_hash))) >= {"f" * 64}
    assert count(app, UsedLoginState) == 2
    with dbsession_of(app) as db:
        db.add(UsedLoginState(state_hash="e" * 64, used_at=long_ago))
        db.commit()
    log_in()  # within the sweep interval: no sweep
    assert count(app, UsedLoginState) == 4
    Clock(monkeypatch).advance(SWEEP_INTERVAL + 1)
    log_in()
    assert count(app, UsedLoginState) == 4  # the old one went, a new one came


def test_a_second_tabs_login_after_the_first_signed_in_says_the_visitor_is_still_signed_in(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    """Two tabs start a login; the first signs the visitor in with a new session, which
    holds none of the old one's pending logins. The second tab's link no longer works,
    and the page says so without asking a signed-in visitor to start again."""
    first, second = start_login(visitor), start_login(visitor)
    visitor.get(callback_path(bitbucket.approve(first)), status=303)
    page = visitor.get(callback_path(bitbucket.approve(second)), status=303).follow()
    assert "This login link no longer works. You are still signed in." in page.text
    assert "expired or was already used" not in page.text
    assert "Signed in as" in visitor.get("/").text
    assert count(app, LinkedIdentity) == 1
