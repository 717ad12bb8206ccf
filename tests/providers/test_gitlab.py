"""GitLab specifics: gitlab.com through the settings, PKCE, the tab's base URL."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from cms_demo.models import User
from cms_social_login.models import LinkedIdentity
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    query_of,
    start_login,
)

from ..helpers import endpoints_of

TAB = {"client_id": KIT_CLIENT_ID, "client_secret": KIT_CLIENT_SECRET}


@pytest.fixture
def social_login_settings(social_login_settings, gitlab_emulator_server):
    return {**social_login_settings, **endpoints_of("gitlab", gitlab_emulator_server)}


def test_gitlab_com_endpoints_from_the_settings_with_pkce(
        social_login_dbsession, social_login_editor, social_login_visitor, gitlab_emulator):
    gitlab_emulator.current_user = gitlab_emulator.add_user("Dmitriy Z", username="dz",
                                                            id=42)
    fill_tab(social_login_editor, "gitlab", TAB, "save").follow()
    authorize = start_login(social_login_visitor, "gitlab")
    params = query_of(authorize)
    assert authorize.startswith(gitlab_emulator.authorize_url)
    assert params["scope"] == "read_user" and params["code_challenge_method"] == "S256"
    back = social_login_visitor.get(callback_path(gitlab_emulator.approve(authorize)))
    assert back.status_int == 303, error_message(back)
    assert social_login_dbsession.scalar(select(LinkedIdentity)).provider_user_id == "42"
    token_call = gitlab_emulator.requests_to("token")[0]
    assert token_call.form["code_verifier"] and token_call.form["client_secret"]


def test_an_unconfirmed_address_is_not_taken(social_login_dbsession, social_login_editor,
                                            social_login_visitor, gitlab_emulator):
    gitlab_emulator.current_user = gitlab_emulator.add_user(
        "Una Confirmed", username="una", email="una@example.org", confirmed=False)
    fill_tab(social_login_editor, "gitlab", TAB, "save").follow()
    location = gitlab_emulator.approve(start_login(social_login_visitor, "gitlab"))
    assert social_login_visitor.get(callback_path(location)).status_int == 303
    user = social_login_dbsession.scalar(select(User).where(User.username == "una"))
    assert user is not None and user.email is None


def test_the_emulator_refuses_a_request_without_pkce(gitlab_emulator):
    gitlab_emulator.current_user = gitlab_emulator.add_user("No Pkce")
    response = requests.get(gitlab_emulator.authorize_url, params={
        "client_id": KIT_CLIENT_ID, "response_type": "code", "state": "s" * 20,
        "redirect_uri": callback_url("gitlab"), "scope": "read_user"},
        allow_redirects=False, timeout=5)
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize(("base_url", "error"), [
    ("https://gitlab.example.com/gitlab", None),
    ("http://gitlab.example.com", "must start with https://"),
    ("https://gitlab.example.com/?x=1", "must not contain a query"),
    ("gitlab.example.com", "must be a full address"),
])
def test_the_base_url_field(base_url, error, social_login_editor):
    page = fill_tab(social_login_editor, "gitlab", {**TAB, "base_url": base_url}, "ok",
                    status=400 if error else 200)
    if error:
        assert error in page.html.find(id="gitlab-base_url-error").get_text()
    else:
        assert page.forms["login-settings-form"]["gitlab.base_url"].value == base_url
