"""Where visitors are sent: same-site paths only; callback URLs from configuration."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from cms_social_login.redirects import safe_came_from

from ..conftest import callback_path, start_login

EVIL = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "%2F%5Cevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "%252F%252Fevil.example",
    "/\tevil",
    "/\nLocation: https://evil.example",
    "evil.example",
    "",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("came_from", EVIL)
def test_unsafe_came_from_falls_back_to_the_home_page(came_from):
    assert safe_came_from(came_from) == "/"


@pytest.mark.parametrize("came_from", ["/", "/docs", "/docs/page?x=1&y=2", "/a/b#frag",
                                       "/caf%C3%A9"])
def test_same_site_paths_are_kept(came_from):
    assert safe_came_from(came_from) == came_from


@pytest.mark.parametrize("came_from", ["//evil.example", "https://evil.example",
                                       "/\\evil.example", "javascript:alert(1)",
                                       "%2F%2Fevil.example"])
def test_login_never_sends_the_visitor_off_site(published_bitbucket, visitor, bitbucket,
                                                bitbucket_user, came_from):
    authorize = start_login(visitor, came_from=quote(came_from, safe=""))
    back = visitor.get(callback_path(bitbucket.approve(authorize)))
    assert back.status_int == 303
    assert back.location in ("/", "http://localhost/")


def test_login_returns_to_a_same_site_path(published_bitbucket, visitor, bitbucket,
                                           bitbucket_user):
    authorize = start_login(visitor, came_from=quote("/docs?page=2", safe=""))
    back = visitor.get(callback_path(bitbucket.approve(authorize)))
    assert back.location.endswith("/docs?page=2")


def test_password_login_never_sends_the_visitor_off_site(visitor):
    form = visitor.get("/login?came_from=//evil.example").forms[0]
    form["login"], form["password"] = "editor", "editor"
    assert form.submit().location in ("/", "http://localhost/")
