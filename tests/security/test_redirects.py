"""Where visitors are sent: same-site paths only; callback URLs from configuration."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cms_social_login.redirects import safe_came_from

from ..helpers import callback_path, start_login

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


# Characters outside Latin-1 (and the ones inside it that are not ASCII) never reach a
# Location header raw: WSGI headers are Latin-1, so a raw "/日本" used to end in a 500.
UNICODE_PATHS = [
    ("/日本/ページ?q=ü", "/%E6%97%A5%E6%9C%AC/%E3%83%9A%E3%83%BC%E3%82%B8?q=%C3%BC"),
    ("/café", "/caf%C3%A9"),
    ("/emoji/😀", "/emoji/%F0%9F%98%80"),
    ("/a b", "/a%20b"),
]
UNICODE_IDS = ["japanese", "latin-1", "emoji", "space"]


@pytest.mark.parametrize(("came_from", "encoded"), UNICODE_PATHS, ids=UNICODE_IDS)
def test_characters_outside_ascii_are_percent_encoded(came_from, encoded):
    assert safe_came_from(came_from) == encoded


@pytest.mark.parametrize("came_from", ["/a\r\nSet-Cookie: x=1", "/a\x85b", "/a\x9bb",
                                       "/\ud800", "/%0d%0aX: y", "/" + "日" * 700],
                         ids=["crlf", "nel", "csi", "surrogate", "encoded-crlf", "oversize"])
def test_line_breaks_control_characters_and_oversize_results_fall_back(came_from):
    assert safe_came_from(came_from) == "/"


@pytest.mark.parametrize(("came_from", "encoded"), UNICODE_PATHS[:3], ids=UNICODE_IDS[:3])
def test_the_sso_callback_returns_to_a_unicode_path(published_bitbucket, visitor, bitbucket,
                                                    bitbucket_user, came_from, encoded):
    authorize = start_login(visitor, came_from=quote(came_from, safe=""))
    back = visitor.get(callback_path(bitbucket.approve(authorize)))
    assert back.status_int == 303
    assert back.headers["Location"].endswith(encoded)


def test_the_sso_start_with_a_raw_unicode_came_from_still_works(published_bitbucket, visitor,
                                                                bitbucket, bitbucket_user):
    start = visitor.get("/login/bitbucket", params={"came_from": "/日本\r\nX: y"})
    assert start.status_int == 302
    back = visitor.get(callback_path(bitbucket.approve(start.location)))
    assert back.status_int == 303 and back.location in ("/", "http://localhost/")


@pytest.mark.parametrize(("came_from", "encoded"), UNICODE_PATHS[:3], ids=UNICODE_IDS[:3])
def test_password_login_returns_to_a_unicode_path(visitor, came_from, encoded):
    form = visitor.get("/login", params={"came_from": came_from}).forms[0]
    form["login"], form["password"] = "editor", "editor"
    response = form.submit()
    assert response.status_int == 303
    assert response.headers["Location"].endswith(encoded)


def test_password_login_with_a_posted_line_break_in_came_from(visitor):
    form = visitor.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    form["came_from"].force_value("/日本\r\nSet-Cookie: planted=1")
    response = form.submit()
    assert response.status_int == 303
    assert response.location in ("/", "http://localhost/")
    assert "planted" not in str(response.headers)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(came_from=st.one_of(st.text(), st.text().map(lambda text: "/" + text),
                           st.text(alphabet="/\\%:.?#@ \r\n\t2fFcC5aA0e").map(
                               lambda text: "/" + text)))
def test_any_came_from_gives_a_header_safe_same_site_path(came_from):
    result = safe_came_from(came_from)
    result.encode("ascii")  # fits any Location header
    assert all(0x21 <= ord(ch) <= 0x7E for ch in result)
    assert result.startswith("/") and not result.startswith("//")
    assert "\\" not in result and len(result) <= 2048
