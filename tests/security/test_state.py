"""The login state: random, single-use, bound to the browser, short-lived; PKCE where offered."""

from __future__ import annotations

from datetime import timedelta

import pytest
import webtest
from pyramid.config import Configurator
from sqlalchemy import select, update

from cms_demo.bootstrap import setup_database
from cms_social_login.models import LinkedIdentity, LoginState
from cms_social_login.models.records import utcnow
from cms_social_login.providers.bitbucket import BitbucketProvider
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.testing import steps
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import fill_tab

from ..helpers import callback_path, endpoints_of, query_of, start_login, submit_bitbucket
from .helpers import count, dbsession_of


def test_state_is_random_long_and_stored_only_as_a_hash(app, published_bitbucket, visitor,
                                                        bitbucket):
    states = {query_of(start_login(visitor))["state"] for _ in range(5)}
    assert len(states) == 5
    assert all(len(state) >= 43 for state in states)  # 32 random bytes, base64url
    with dbsession_of(app) as db:
        stored = set(db.scalars(select(LoginState.state_hash)))
    assert stored and not stored & states


def test_missing_state_signs_nobody_in(app, published_bitbucket, visitor, bitbucket,
                                       bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    code = query_of(location)["code"]
    page = visitor.get(f"/login/bitbucket/callback?code={code}", status=303).follow()
    assert "expired or was already used" in page.text
    assert count(app, LinkedIdentity) == 0
    assert not bitbucket.requests_to("token")


def test_expired_state_signs_nobody_in(app, published_bitbucket, visitor, bitbucket,
                                       bitbucket_user):
    location = bitbucket.approve(start_login(visitor))
    with dbsession_of(app) as db:
        db.execute(update(LoginState).values(created_at=utcnow() - timedelta(minutes=11)))
        db.commit()
    page = visitor.get(callback_path(location), status=303).follow()
    assert "expired or was already used" in page.text
    assert count(app, LinkedIdentity) == 0
    assert count(app, LoginState) == 0  # the expired state is gone too


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


def test_pkce_is_not_sent_to_bitbucket(published_bitbucket, visitor, bitbucket):
    params = query_of(start_login(visitor))
    assert "code_challenge" not in params


class PkceBitbucket(BitbucketProvider):
    """Bitbucket as if it supported PKCE (the emulator checks S256 challenges)."""

    uses_pkce = True


@pytest.fixture
def pkce_app(app_settings):
    """The demo site whose host registers its own "bitbucket" provider: the host's
    configuration wins over the add-on's entry point."""
    with Configurator(settings=dict(app_settings)) as config:
        config.include("cms_demo.models")
        config.include("cms_social_login")
        config.set_social_login_dbsession("request.dbsession",
                                          session_factory=config.registry["dbsession_factory"])
        config.include("cms_demo.security")
        config.set_social_login_user_adapter("cms_demo.users.DemoUserAdapter")
        config.include("cms_demo.views")
        config.add_social_login_provider(PkceBitbucket, name="bitbucket")
        setup_database(config.registry)
    return config.make_wsgi_app()


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
    assert count(pkce_app, LinkedIdentity) == 1


# ------------------------------------------------------------------ pending states per browser


def test_one_browser_holds_at_most_the_cap_of_pending_logins_and_the_newest_works(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    cap = app.registry.social_login_settings.max_pending_logins
    assert cap == 10  # the default
    authorize_urls = [visitor.get("/login/bitbucket").location for _ in range(50)]
    assert count(app, LoginState) == cap
    # The oldest were dropped first: the first start's state no longer works ...
    first = visitor.get(callback_path(bitbucket.approve(authorize_urls[0])), status=303)
    assert "expired or was already used" in first.follow().text
    # ... while the most recent one completes the login (back to came_from, not /login).
    last = visitor.get(callback_path(bitbucket.approve(authorize_urls[-1])))
    assert last.status_int == 303 and not last.location.endswith("/login")
    assert count(app, LinkedIdentity) == 1


def test_the_cap_is_per_browser(app, published_bitbucket, make_browser, bitbucket):
    browsers = [make_browser() for _ in range(3)]
    for browser in browsers:
        for _ in range(12):
            browser.get("/login/bitbucket")
    assert count(app, LoginState) == 3 * 10


def test_a_start_sweeps_a_bounded_batch_of_expired_states(app, published_bitbucket, visitor):
    from cms_social_login.services.sso import SWEEP_BATCH

    long_ago = utcnow() - timedelta(hours=1)
    with dbsession_of(app) as db:
        db.add_all(LoginState(state_hash=f"{n:064x}", provider="bitbucket",
                              binding=f"{n:064x}", came_from="/", created_at=long_ago)
                   for n in range(SWEEP_BATCH + 50))
        db.commit()
    visitor.get("/login/bitbucket")
    assert count(app, LoginState) == 50 + 1  # one batch swept, one new state
    visitor.get("/login/bitbucket")
    assert count(app, LoginState) == 2
