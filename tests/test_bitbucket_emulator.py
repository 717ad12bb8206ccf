"""The Bitbucket emulator behaves like Bitbucket Cloud (see /work/shared/BITBUCKET.md)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator

CALLBACK = "http://site.test/login/bitbucket/callback"
KEY, SECRET = "consumer-key", "consumer-secret"
TIMEOUT = 5


@pytest.fixture(scope="module")
def server():
    with BitbucketEmulator() as emulator:
        emulator.add_client(KEY, SECRET, CALLBACK)
        emulator.add_client("public-key", "public-secret", CALLBACK, private=False)
        emulator.add_client("no-callback", "s3cret")
        emulator.add_client("email-less", "s3cret", CALLBACK, scopes="account")
        emulator.add_user(
            "Foo Bar",
            nickname="foobar",
            emails=[
                {"email": "old@example.com", "is_primary": False, "is_confirmed": True},
                {"email": "foo@example.com", "is_primary": True, "is_confirmed": True},
                {"email": "new@example.com", "is_primary": False, "is_confirmed": False},
            ],
            workspaces=[{"slug": "foo-team", "administrator": True}, "shared"],
            uuid="{397621dc-0f78-329f-8d6d-727396248e3f}",
        )
        yield emulator


@pytest.fixture
def bb(server):
    server.reset()
    yield server
    server.reset()


def authorize_url(bb, **params):
    query = {"client_id": KEY, "response_type": "code", "state": "st4te", **params}
    return f"{bb.authorize_url}?{urlencode(query)}"


def query_of(location):
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(bb, user=None, **params):
    return query_of(bb.approve(authorize_url(bb, **params), user=user))["code"]


def exchange(bb, data, auth=(KEY, SECRET)):
    return requests.post(bb.token_url, data=data, auth=auth, timeout=TIMEOUT)


def get_token(bb, user=None, **params):
    response = exchange(bb, {"grant_type": "authorization_code", "code": get_code(bb, user)})
    assert response.status_code == 200, response.text
    return response.json()


def api(bb, path, token, **params):
    return requests.get(
        bb.api_url + path,
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )


# ---------------------------------------------------------------- authorize


def test_consent_page_is_a_form_for_the_current_user(bb):
    page = requests.get(authorize_url(bb), timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert "<title>" in text and "Foo Bar" in text
    assert '<form method="post" action="/site/oauth2/authorize"' in text
    assert '<input type="hidden" name="state" value="st4te">' in text
    assert '<button type="submit" name="decision" value="grant">Grant access</button>' in text
    assert '<button type="submit" name="decision" value="deny">Cancel</button>' in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"client_id": "nobody"}, "Invalid client"),
        ({"redirect_uri": "http://evil.test/callback"}, "Invalid redirect_uri"),
        ({"client_id": "no-callback"}, "No callback URL"),
    ],
)
def test_authorize_errors_are_html_pages(bb, params, message):
    page = requests.get(authorize_url(bb, **params), timeout=TIMEOUT, allow_redirects=False)
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert message in page.text


def test_approve_redirects_to_callback_with_code_and_state(bb):
    location = bb.approve(authorize_url(bb))
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["state"] == "st4te" and query["code"]


def test_approve_keeps_the_redirect_uri_query_string(bb):
    location = bb.approve(authorize_url(bb, redirect_uri=CALLBACK + "?next=%2Fhome"))
    assert location.startswith(CALLBACK + "?next=%2Fhome&code=")
    assert query_of(location)["next"] == "/home"
    assert query_of(location)["state"] == "st4te"


def test_deny_redirects_with_access_denied_and_state(bb):
    query = query_of(bb.deny(authorize_url(bb)))
    assert query["error"] == "access_denied"
    assert query["error_description"]
    assert query["state"] == "st4te"
    assert "code" not in query


def test_approve_as_another_user(bb):
    other = bb.add_user("Other Person", emails=["other@example.com"])
    token = get_token(bb, user=other)["access_token"]
    assert api(bb, "/user", token).json()["uuid"] == other.uuid
    assert bb.current_user.display_name == "Foo Bar"


# ---------------------------------------------------------------- token


def test_token_exchange_with_basic_auth(bb):
    code = get_code(bb)
    response = exchange(bb, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 200
    body = response.json()
    # Bitbucket names the granted scopes "scope" since May 2026 (BITBUCKET.md).
    assert set(body) == {"access_token", "scope", "expires_in", "refresh_token", "token_type"}
    assert body["scope"] == "account email"
    assert body["expires_in"] == 7200 and body["token_type"] == "bearer"
    (logged,) = bb.requests_to("token")
    assert logged.headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in logged.form


def test_token_exchange_with_form_credentials(bb):
    data = {
        "grant_type": "authorization_code",
        "code": get_code(bb),
        "client_id": KEY,
        "client_secret": SECRET,
    }
    response = exchange(bb, data, auth=None)
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_scope_field_can_be_the_old_scopes(bb, monkeypatch):
    """Before May 2026 Bitbucket said "scopes"; the emulator can still answer that way."""
    monkeypatch.setattr(bb, "scope_field", "scopes")
    body = get_token(bb)
    assert body["scopes"] == "account email" and "scope" not in body


@pytest.mark.parametrize("answering", [{"workspaces"}, {"permissions_workspaces"}, set()])
def test_the_membership_endpoints_answer_as_switched(bb, answering):
    token = bb.issue_token(KEY, bb.add_user("Switch", nickname="switch", workspaces=["acme"]))
    headers = {"Authorization": f"Bearer {token.token}"}
    bb.membership_endpoints = set(answering)
    for name, path in (("workspaces", "/user/workspaces"),
                       ("permissions_workspaces", "/user/permissions/workspaces")):
        answer = requests.get(bb.api_url + path, headers=headers, timeout=5)
        if name in answering:
            assert answer.status_code == 200
            [value] = answer.json()["values"]
            assert value["workspace"]["slug"] == "acme"
            assert value["type"] == ("workspace_access" if name == "workspaces"
                                     else "workspace_membership")
        else:
            assert answer.status_code == 404
            assert answer.json()["type"] == "error"


def test_json_body_is_refused(bb):
    response = requests.post(
        bb.token_url,
        json={"grant_type": "authorization_code", "code": get_code(bb)},
        auth=(KEY, SECRET),
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("auth", [(KEY, "wrong"), ("nobody", SECRET), None])
def test_bad_client_credentials(bb, auth):
    response = exchange(bb, {"grant_type": "authorization_code", "code": get_code(bb)}, auth)
    assert response.status_code == 401
    assert response.json() == {
        "error_description": "Requests must be authenticated using OAuth client credentials",
        "error": "unauthorized_client",
    }


def test_code_is_single_use(bb):
    data = {"grant_type": "authorization_code", "code": get_code(bb)}
    first = exchange(bb, data)
    assert first.status_code == 200
    second = exchange(bb, data)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    # The tokens obtained with the replayed code are revoked (RFC 6749 4.1.2).
    assert api(bb, "/user", first.json()["access_token"]).status_code == 401


def test_unknown_and_expired_codes(bb):
    assert exchange(bb, {"grant_type": "authorization_code", "code": "nope"}).status_code == 400
    code = get_code(bb)
    bb.expire_codes()
    response = exchange(bb, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_belongs_to_its_client(bb):
    data = {"grant_type": "authorization_code", "code": get_code(bb)}
    response = exchange(bb, data, auth=("public-key", "public-secret"))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorization(bb):
    sent = CALLBACK + "?next=%2F"
    code = get_code(bb, redirect_uri=sent)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    response = exchange(bb, data)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"

    code = get_code(bb, redirect_uri=sent)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": sent}
    assert exchange(bb, data).status_code == 200


def test_pkce_is_ignored_as_bitbucket_does_not_document_it(bb):
    """BITBUCKET.md: PKCE is not documented for Bitbucket Cloud, so the emulator checks
    no verifier: a provider cannot pass here by relying on it."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}

    for sent in ({"code_verifier": verifier}, {"code_verifier": secrets.token_urlsafe(48)}, {}):
        data = {"grant_type": "authorization_code", "code": get_code(bb, **pkce), **sent}
        assert exchange(bb, data).status_code == 200


def test_refresh_token_rotates(bb):
    first = get_token(bb)
    response = exchange(
        bb, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert response.status_code == 200
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert api(bb, "/user", second["access_token"]).status_code == 200

    reused = exchange(bb, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_client_credentials(bb):
    response = exchange(bb, {"grant_type": "client_credentials"})
    assert response.status_code == 200
    token = response.json()["access_token"]
    user = api(bb, "/user", token)
    assert user.status_code == 401 and user.json()["type"] == "error"

    public = exchange(
        bb, {"grant_type": "client_credentials"}, auth=("public-key", "public-secret")
    )
    assert public.status_code == 400


def test_unknown_grant_type(bb):
    response = exchange(bb, {"grant_type": "password", "username": "u", "password": "p"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# ---------------------------------------------------------------- API


def test_user_has_the_bitbucket_shape(bb):
    token = get_token(bb)["access_token"]
    response = api(bb, "/user", token)
    assert response.status_code == 200
    user = response.json()
    assert user["type"] == "user"
    assert user["uuid"] == "{397621dc-0f78-329f-8d6d-727396248e3f}"
    assert user["account_id"].startswith("557058:")
    assert user["nickname"] == "foobar" and user["display_name"] == "Foo Bar"
    assert user["account_status"] == "active"
    assert "username" not in user
    for link in ("avatar", "html", "self"):
        assert user["links"][link]["href"].startswith("http://127.0.0.1:")
    (logged,) = bb.requests_to("user")
    assert logged.headers["Authorization"] == f"Bearer {token}"
    assert "access_token" not in logged.query


def test_bearer_only_in_the_header(bb):
    token = get_token(bb)["access_token"]
    response = requests.get(bb.api_url + "/user", params={"access_token": token}, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json()["type"] == "error"
    missing = requests.get(bb.api_url + "/user", timeout=TIMEOUT)
    assert missing.status_code == 401
    assert missing.json() == {"type": "error", "error": {"message": "Unauthorized"}}
    assert api(bb, "/user", "not-a-token").status_code == 401


def test_expired_token_envelope(bb):
    token = get_token(bb)["access_token"]
    bb.expire_tokens()
    response = api(bb, "/user", token)
    assert response.status_code == 401
    assert response.json() == {"type": "error", "error": {"message": "Access token expired."}}


def test_emails_keep_order_and_flags(bb):
    body = api(bb, "/user/emails", get_token(bb)["access_token"]).json()
    assert body["pagelen"] == 10 and body["page"] == 1 and body["size"] == 3
    assert "next" not in body
    assert [(e["email"], e["is_primary"], e["is_confirmed"]) for e in body["values"]] == [
        ("old@example.com", False, True),
        ("foo@example.com", True, True),
        ("new@example.com", False, False),
    ]
    assert all(e["type"] == "email" and e["links"]["self"]["href"] for e in body["values"])


def test_email_pagination(bb):
    many = bb.add_user("Many Mails", emails=[f"m{i}@example.com" for i in range(12)])
    token = get_token(bb, user=many)["access_token"]
    url, pages = f"{bb.api_url}/user/emails?pagelen=5", []
    while url:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        pages.append(response.json())
        url = pages[-1].get("next")
    assert [len(p["values"]) for p in pages] == [5, 5, 2]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert all(p["size"] == 12 and p["pagelen"] == 5 for p in pages)
    assert pages[0]["next"] == f"{bb.api_url}/user/emails?pagelen=5&page=2"
    emails = [e["email"] for p in pages for e in p["values"]]
    assert emails == [f"m{i}@example.com" for i in range(12)]
    assert pages[0]["values"][0]["is_primary"] is True


def test_email_scope_is_required(bb):
    code = get_code(bb, client_id="email-less")
    data = {"grant_type": "authorization_code", "code": code}
    token = exchange(bb, data, auth=("email-less", "s3cret")).json()["access_token"]
    assert api(bb, "/user", token).status_code == 200
    response = api(bb, "/user/emails", token)
    assert response.status_code == 403
    assert response.json()["error"]["detail"]["required"] == ["email"]


def test_workspaces(bb):
    body = api(bb, "/user/workspaces", get_token(bb)["access_token"]).json()
    assert body["size"] == 2 and "next" not in body
    first, second = body["values"]
    assert first["type"] == "workspace_access" and first["administrator"] is True
    assert first["workspace"]["type"] == "workspace"
    assert first["workspace"]["slug"] == "foo-team"
    assert first["workspace"]["uuid"].startswith("{")
    assert second["administrator"] is False and second["workspace"]["slug"] == "shared"


# ---------------------------------------------------------------- failure injection


def test_injected_500_then_recovery(bb):
    token = get_token(bb)["access_token"]
    bb.fail("user", status=500, times=2)
    assert api(bb, "/user", token).status_code == 500
    assert api(bb, "/user", token).status_code == 500
    assert api(bb, "/user", token).status_code == 200


def test_injected_malformed_body(bb):
    bb.fail("token", status=200, body='{"access_token": ')
    response = exchange(bb, {"grant_type": "authorization_code", "code": get_code(bb)})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_injected_delay_causes_client_timeout(bb):
    token = get_token(bb)["access_token"]
    bb.fail("emails", status=None, delay=0.5)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        api_timeout = {"Authorization": f"Bearer {token}"}
        requests.get(bb.api_url + "/user/emails", headers=api_timeout, timeout=0.1)
    assert time.monotonic() - started < 0.45
    # The server stays responsive for other requests meanwhile, and afterwards.
    assert api(bb, "/user", token).status_code == 200
    assert api(bb, "/user/emails", token).status_code == 200


def test_concurrent_requests(bb):
    token = get_token(bb)["access_token"]
    bb.fail("workspaces", status=None, delay=0.3, times=4)
    statuses = []

    def call():
        statuses.append(api(bb, "/user/workspaces", token).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert time.monotonic() - started < 1.0


def test_reset_forgets_tokens_and_log(bb):
    token = get_token(bb)["access_token"]
    bb.fail("user")
    assert bb.log
    bb.reset()
    assert bb.log == [] and bb.failures == {}
    response = api(bb, "/user", token)
    assert response.status_code == 401
    assert bb.clients[KEY].callback_url == CALLBACK
