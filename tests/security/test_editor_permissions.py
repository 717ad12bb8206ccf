"""Only editors reach /editor/...: anonymous visitors are sent to log in (or refused),
signed-in non-editors are refused, for GET and POST alike."""

from __future__ import annotations

import pytest

from cms_social_login.models import LoginSettings

from ..helpers import callback_path, start_login
from .helpers import count

EDITOR_URLS = [
    "/editor",
    "/editor/system-pages",
    "/editor/system-pages/login",
    "/editor/system-pages/login/settings",
    "/editor/system-pages/login/preview",
]

SETTINGS_POST = {"action": "save", "draft_version": "0", "bitbucket.enabled": "on",
                 "bitbucket.client_id": "attacker-key", "bitbucket.client_secret": "x" * 10}


@pytest.mark.parametrize("url", EDITOR_URLS)
def test_anonymous_get_is_sent_to_the_login_page(visitor, url):
    response = visitor.get(url, status=303)
    assert "/login?came_from=" in response.location


@pytest.mark.parametrize("url", EDITOR_URLS)
def test_anonymous_post_is_refused(app, visitor, url):
    token = visitor.get("/login").forms[0]["csrf_token"].value
    visitor.post(url, {**SETTINGS_POST, "csrf_token": token}, status=(403, 404))
    assert count(app, LoginSettings) == 0


@pytest.fixture
def member(published_bitbucket, make_browser, bitbucket, bitbucket_user):
    """A visitor signed in through Bitbucket: a site member, not an editor."""
    browser = make_browser()
    browser.get(callback_path(bitbucket.approve(start_login(browser)))).follow()
    return browser


@pytest.mark.parametrize("url", EDITOR_URLS)
def test_signed_in_non_editors_are_refused(member, url):
    page = member.get(url, status=403)
    assert "Only the site's editors" in page.html.get_text()


def test_signed_in_non_editor_post_changes_nothing(app, member):
    token = member.get("/login").forms[0]["csrf_token"].value
    member.post("/editor/system-pages/login/settings", {**SETTINGS_POST, "csrf_token": token},
                status=403)
    assert count(app, LoginSettings) == 2  # draft and published, as the editor left them
    assert "attacker-key" not in member.get("/login").text
