"""A visitor without a session signs in with a login form token, from the site's own page.

The login page gives such a visitor no session (no cookie); its password form carries a
signed, time-limited token that does not identify the browser. So the token alone cannot
stop login CSRF (another site could fetch one): POST /login takes it only when the
browser's headers say the form was on this site.
"""

from __future__ import annotations

import time

import pytest

from cms_social_login import session as sessions

from ..helpers import SITE


def login_fields(visitor, password: str = "editor") -> list[tuple[str, str]]:
    page = visitor.get("/login")
    assert page.headers.getall("Set-Cookie") == []
    form = next(f for f in page.forms.values() if f.action.endswith("/login"))
    form["login"], form["password"] = "editor", password
    return form.submit_fields()


def signed_in(visitor) -> bool:
    return "You are signed in as" in visitor.get("/login").text


@pytest.mark.parametrize("headers", [
    {"Origin": SITE},
    {"Referer": SITE + "/login"},
    {"Sec-Fetch-Site": "same-origin", "Origin": SITE},
    {},  # not a browser: nothing a visitor's browser could be made to send
], ids=["origin", "referer", "fetch-metadata", "no-browser-headers"])
def test_a_form_from_the_sites_own_page_signs_in(visitor, headers):
    visitor.post("/login", login_fields(visitor), headers=headers, status=303)
    assert signed_in(visitor)


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/attack.html"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": SITE},
], ids=["other-origin", "opaque-origin", "other-referer", "cross-site", "sibling-site"])
def test_a_form_posted_from_another_site_is_refused(visitor, headers):
    visitor.post("/login", login_fields(visitor), headers=headers, status=400)
    assert not signed_in(visitor)


@pytest.mark.parametrize("token", [
    "", "wrong-token", "1700000000.", "1700000000.0123456789abcdef0123456789abcdef",
    "99999999999999999999.00", "-5.00",
])
def test_a_forged_login_form_token_is_refused(visitor, token):
    fields = [(k, token if k == "csrf_token" else v) for k, v in login_fields(visitor)]
    visitor.post("/login", fields, headers={"Origin": SITE}, status=400)
    assert not signed_in(visitor)


def test_an_old_login_form_token_is_refused(visitor, monkeypatch):
    fields = login_fields(visitor)
    later = time.time() + sessions.LOGIN_FORM_TOKEN_LIFETIME + sessions.LOGIN_FORM_TOKEN_STEP
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    visitor.post("/login", fields, headers={"Origin": SITE}, status=400)


def test_a_login_form_token_signed_with_another_key_is_refused(app, visitor):
    fields = dict(login_fields(visitor))
    issued = int(fields["csrf_token"].split(".")[0])
    foreign = sessions._sign_issued(b"k" * 32, issued)
    fields["csrf_token"] = foreign
    visitor.post("/login", list(fields.items()), headers={"Origin": SITE}, status=400)
