"""GitHub specifics: verified primary email, numeric id, errors sent with HTTP 200."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from cms_demo.models import User
from cms_social_login.models import LinkedIdentity
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    callback_path,
    error_message,
    fill_tab,
    query_of,
    start_login,
)

from ..helpers import endpoints_of

TAB = {"client_id": KIT_CLIENT_ID, "client_secret": KIT_CLIENT_SECRET}


@pytest.fixture
def social_login_settings(social_login_settings, github_emulator_server):
    return {**social_login_settings, **endpoints_of("github", github_emulator_server)}


def login(editor, visitor, github, **tab):
    fill_tab(editor, "github", {**TAB, **tab}, "save").follow()
    authorize = start_login(visitor, "github")
    return authorize, visitor.get(callback_path(github.approve(authorize)))


def test_the_verified_primary_address_and_the_numeric_id(
        social_login_dbsession, social_login_editor, social_login_visitor, github_emulator):
    user = github_emulator.add_user("ada", name="Ada", id=583231, emails=[
        {"email": "first@example.org", "verified": True},
        {"email": "unverified@example.org", "verified": False},
        {"email": "ada@example.org", "primary": True, "verified": True}])
    github_emulator.current_user = user
    authorize, back = login(social_login_editor, social_login_visitor, github_emulator)
    assert back.location == "http://localhost/", error_message(back.follow())
    assert query_of(authorize)["scope"] == "read:user user:email"
    identity = social_login_dbsession.scalar(select(LinkedIdentity))
    assert identity.provider_user_id == "583231"
    assert social_login_dbsession.scalar(select(User).where(User.username == "ada")).email \
        == "ada@example.org"
    token_call = github_emulator.requests_to("token")[0]
    assert token_call.headers["Accept"] == "application/json"
    assert token_call.form["client_id"] == KIT_CLIENT_ID
    assert all(r.headers["Authorization"].startswith("Bearer ")
               and r.headers["X-Github-Api-Version"] == "2022-11-28"
               for r in github_emulator.log if r.endpoint in ("user", "emails"))


def test_no_verified_primary_address(social_login_editor, social_login_visitor,
                                     github_emulator):
    github_emulator.current_user = github_emulator.add_user("nobody", emails=[
        {"email": "nobody@example.org", "primary": True, "verified": False}])
    _, back = login(social_login_editor, social_login_visitor, github_emulator)
    assert "no verified primary email address" in error_message(back.follow())


@pytest.mark.parametrize(("secret", "message"), [
    ("wrong-secret-value", "GitHub login is not set up correctly on this site"),
    (KIT_CLIENT_SECRET, "The GitHub login code was not accepted"),
])
def test_token_errors_sent_with_http_200(secret, message, social_login_editor,
                                         social_login_visitor, github_emulator):
    github_emulator.current_user = github_emulator.add_user("someone")
    fill_tab(social_login_editor, "github", {**TAB, "client_secret": secret}, "save").follow()
    location = github_emulator.approve(start_login(social_login_visitor, "github"))
    if secret == KIT_CLIENT_SECRET:
        location = location.replace("code=", "code=spoilt")
    back = social_login_visitor.get(callback_path(location))
    assert message in error_message(back.follow())
    assert github_emulator.requests_to("token")[0] is not None


def test_the_emulator_answers_a_form_without_accept_json(github_emulator):
    response = requests.post(github_emulator.token_url, data={
        "client_id": KIT_CLIENT_ID, "client_secret": "wrong", "code": "x"}, timeout=5,
        headers={"Accept": "*/*"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "incorrect_client_credentials"


# --------------------------------------------------------------------------- PKCE, refresh


def test_pkce_s256_is_sent_and_github_checks_the_verifier(
        social_login_editor, social_login_visitor, github_emulator):
    github_emulator.current_user = github_emulator.add_user("grace", name="Grace")
    authorize, back = login(social_login_editor, social_login_visitor, github_emulator)
    assert back.location == "http://localhost/", error_message(back.follow())
    assert "Grace" in back.follow().text  # GitHub took the verifier: signed in
    assert query_of(authorize)["code_challenge_method"] == "S256"
    assert len(query_of(authorize)["code_challenge"]) == 43
    assert len(github_emulator.requests_to("token")[0].form["code_verifier"]) >= 43


def test_github_refuses_a_code_without_its_verifier(github_emulator):
    """The emulator is no more lenient than GitHub: a challenge sent means a verifier due."""
    github_emulator.current_user = github_emulator.add_user("alan")
    github_emulator.add_client("pkce-client", "pkce-secret", "https://site.example/cb")
    location = github_emulator.approve(
        github_emulator.authorize_url + "?client_id=pkce-client&response_type=code&state=s1"
        "&code_challenge=" + "A" * 43 + "&code_challenge_method=S256")
    code = query_of(location)["code"]
    answer = requests.post(github_emulator.token_url, timeout=5,
                           headers={"Accept": "application/json"},
                           data={"client_id": "pkce-client", "client_secret": "pkce-secret",
                                 "grant_type": "authorization_code", "code": code})
    assert answer.status_code == 200 and answer.json()["error"] == "bad_verification_code"
    plain = github_emulator.approve(
        github_emulator.authorize_url + "?client_id=pkce-client&response_type=code&state=s2"
        "&code_challenge=" + "A" * 43 + "&code_challenge_method=plain")
    assert query_of(plain)["error"] == "invalid_request"  # GitHub: S256 only


def test_a_refresh_github_refuses_is_rejected(social_login_app, github_emulator):
    """GitHub answers a dead refresh token with HTTP 200 and ``bad_refresh_token``:
    the provider reads it as RefreshTokenRejected (the caller then drops the token)."""
    from cms_social_login.providers.errors import RefreshTokenRejected
    from cms_social_login.providers.registry import get_provider_registry

    provider = get_provider_registry(social_login_app.registry).get("github")
    with pytest.raises(RefreshTokenRejected):
        provider.refresh(TAB, "ghr_not-a-refresh-token")
    answer = github_emulator.requests_to("token")[-1]
    assert answer.form["grant_type"] == "refresh_token"


def test_a_refresh_github_accepts_gives_a_new_token(social_login_app, github_emulator):
    from cms_social_login.providers.registry import get_provider_registry

    github_emulator.expiring_tokens = True
    user = github_emulator.add_user("hopper")
    issued = github_emulator.issue_token(KIT_CLIENT_ID, user)
    provider = get_provider_registry(social_login_app.registry).get("github")
    answer = provider.refresh(TAB, issued.refresh_token)
    assert answer["access_token"] != issued.token and answer["refresh_token"]
    assert answer["expires_in"] == 28800
