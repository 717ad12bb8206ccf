"""The OpenID Connect provider against a certified OpenID Provider nobody here wrote:
panva's ``oidc-provider`` (npm, pinned in package.json), run by ``op.mjs`` on 127.0.0.1.

Needs ``node`` and ``npm install`` in this folder (``.ci/run`` does it); without them the
tests are skipped with the reason, and under ``CI=true`` they fail.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import select

from cms_social_login.models import LinkedIdentity
from cms_social_login.testing.postgresql import free_port
from cms_social_login.testing.steps import (
    SITE,
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    query_of,
    start_login,
)

HERE = Path(__file__).resolve().parent
CLIENT_ID = "certified-client-0001"
CLIENT_SECRET = "certified-secret-0123456789abcdef"
POST_LOGOUT = f"{SITE}/logout/done"
USER_SUB = "certified-user-0001"
#: Seconds the OP gets to start.
START_TIMEOUT = 30
#: Redirects followed at most through the OP.
MAX_HOPS = 10


def _unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
        return f"oidc-provider is not installed: run npm ci in {HERE}"
    return None


class CertifiedOP:
    """``node op.mjs`` on a fixed port; its stdout lines (one JSON per request) kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, kid: str) -> CertifiedOP:
        env = {**os.environ, "OP_PORT": str(self.port), "OP_KID": kid,
               "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
               "REDIRECT_URI": callback_url("oidc"), "POST_LOGOUT_REDIRECT_URI": POST_LOGOUT}
        self.lines = []
        self.process = subprocess.Popen(["node", "op.mjs"], cwd=HERE, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started = threading.Event()

        def read(stream) -> None:
            for line in stream:
                self.lines.append(line.strip())
                if line.startswith("listening"):
                    started.set()

        threading.Thread(target=read, args=(self.process.stdout,), daemon=True).start()
        if not started.wait(START_TIMEOUT):
            self.stop()
            raise RuntimeError("the OpenID Provider did not start:\n" + "\n".join(self.lines))
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def requests(self, method: str, path: str) -> list[dict]:
        """The logged requests to ``path`` (with their status)."""
        found = []
        for line in list(self.lines):
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("method") == method and entry.get("path") == path:
                    found.append(entry)
        return found

    def interactions(self) -> list[str]:
        return [json.loads(line)["interaction"] for line in list(self.lines)
                if line.startswith('{"interaction"')]


@pytest.fixture(scope="module")
def certified_op():
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs the certified OpenID Provider: {reason}",
                        pytrace=False)
        pytest.skip(reason)
    op = CertifiedOP().start(kid="key-1")
    yield op
    op.stop()


@pytest.fixture
def op(certified_op):
    certified_op.lines.clear()
    return certified_op


def tab(op: CertifiedOP, **extra) -> dict:
    return {"issuer": op.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            **extra}


def through_op(browser: requests.Session, url: str, *, deny: bool = False) -> str:
    """Follow the OP's redirects as a browser would (its cookies kept) until it sends the
    browser back to the site; ``deny`` cancels at the interaction."""
    for _hop in range(MAX_HOPS):
        if url.startswith(SITE):
            return url
        if deny and "/interaction/" in url:
            url += "?deny=1"
        answer = browser.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), f"{answer.status_code}: {answer.text[:300]}"
        url = urljoin(url, answer.headers["Location"])
    raise AssertionError(f"more than {MAX_HOPS} redirects at the OP")


def log_in(visitor, op_browser: requests.Session, *, deny: bool = False):
    authorize = start_login(visitor, "oidc")
    return authorize, visitor.get(callback_path(through_op(op_browser, authorize, deny=deny)))


class _Form(HTMLParser):
    """The first form's action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --------------------------------------------------------------------------- the tests


def test_code_flow_with_pkce(social_login_dbsession, social_login_editor,
                             social_login_visitor, op):
    fill_tab(social_login_editor, "oidc", tab(op), "save").follow()
    authorize, back = log_in(social_login_visitor, requests.Session())
    assert back.status_int == 303, error_message(back)
    params = query_of(authorize)
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["nonce"] and params["scope"] == "openid email profile"
    # The OP requires PKCE (pkce.required) and verified the verifier at the token endpoint.
    assert [r["status"] for r in op.requests("POST", "/token")] == [200]
    identity = social_login_dbsession.scalar(select(LinkedIdentity))
    assert identity.provider_user_id == USER_SUB


def test_claims_only_from_userinfo(social_login_dbsession, social_login_editor,
                                  social_login_visitor, op):
    """oidc-provider puts the scopes' claims in userinfo only when an access token is
    issued (Core 5.4): the site reads them there."""
    fill_tab(social_login_editor, "oidc", tab(op, logout_at_provider=True), "save").follow()
    _authorize, back = log_in(social_login_visitor, requests.Session())
    assert back.status_int == 303, error_message(back)
    assert "Grace Hopper" in back.follow().text
    assert [r["status"] for r in op.requests("GET", "/me")] == [200]
    identity = social_login_dbsession.scalar(select(LinkedIdentity))
    assert identity.email == "grace@example.org"
    # The ID token the site kept (sent back as id_token_hint at logout) has none of them.
    claims = claims_of(query_of(log_out(social_login_visitor))["id_token_hint"])
    assert claims["sub"] == USER_SUB and claims["aud"] == CLIENT_ID
    assert "email" not in claims and "name" not in claims


def _submit_logout(visitor) -> str:
    """Log out through the one-button page (POST with CSRF), when there is one."""
    page = visitor.get("/logout")
    form = next(f for f in page.forms.values()
                if (f.action or "").rstrip("/").endswith("/logout"))
    return form.submit().location


def log_out(visitor) -> str:
    answer = visitor.get("/logout")
    if answer.status_int == 200:
        return _submit_logout(visitor)
    return answer.location


def test_cancel_at_the_provider(social_login_dbsession, social_login_editor,
                                social_login_visitor, op):
    fill_tab(social_login_editor, "oidc", tab(op), "save").follow()
    _authorize, back = log_in(social_login_visitor, requests.Session(), deny=True)
    assert "login was cancelled" in error_message(back.follow())
    assert op.requests("POST", "/token") == []
    assert social_login_dbsession.scalar(select(LinkedIdentity)) is None


def test_a_wrong_client_secret(social_login_dbsession, social_login_editor,
                               social_login_visitor, op):
    fill_tab(social_login_editor, "oidc", tab(op, client_secret="not-the-secret-at-all"),
             "save").follow()
    _authorize, back = log_in(social_login_visitor, requests.Session())
    assert "not set up correctly" in error_message(back.follow())
    assert [r["status"] for r in op.requests("POST", "/token")] == [401]
    assert social_login_dbsession.scalar(select(LinkedIdentity)) is None


def test_key_rotation(social_login_editor, social_login_browser, op):
    """The OP starts again with a new signing key (new kid): the cached key set lacks it,
    so the site fetches the JWKS again once and verifies the new ID token."""
    fill_tab(social_login_editor, "oidc", tab(op), "save").follow()
    _authorize, back = log_in(social_login_browser(), requests.Session())
    assert back.status_int == 303, error_message(back)
    op.stop()
    op.start(kid="key-2")
    _authorize, back = log_in(social_login_browser(), requests.Session())
    # Signed in (a refused ID token is a 303 to /login too): the new key verified it.
    assert back.location == f"{SITE}/", error_message(back.follow())
    assert [r["status"] for r in op.requests("GET", "/jwks")] == [200]
    assert op.requests("GET", "/.well-known/openid-configuration") == []  # still cached


def test_rp_initiated_logout(social_login_editor, social_login_visitor, op):
    fill_tab(social_login_editor, "oidc", tab(op, logout_at_provider=True), "save").follow()
    op_browser = requests.Session()
    _authorize, back = log_in(social_login_visitor, op_browser)
    assert back.status_int == 303, error_message(back)
    location = log_out(social_login_visitor)
    assert location.startswith(f"{op.issuer}/session/end?")
    params = query_of(location)
    assert params["client_id"] == CLIENT_ID and params["post_logout_redirect_uri"] == POST_LOGOUT
    # The OP asks the user to confirm ("Yes, sign me out"); the user does.
    page = op_browser.get(location, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:300]
    form = _Form()
    form.feed(page.text)
    answer = op_browser.post(urljoin(location, form.action),
                             data={**form.fields, "logout": "yes"}, allow_redirects=False,
                             timeout=10)
    assert answer.status_code in (302, 303), answer.text[:300]
    back_to_site = answer.headers["Location"]
    assert back_to_site.startswith(POST_LOGOUT)
    assert query_of(back_to_site)["state"] == params["state"]
    landing = social_login_visitor.get(callback_path(back_to_site))
    assert "You are logged out" in landing.text
    # The provider's session is gone: the next login asks the user to log in again.
    op.lines.clear()
    _authorize, back = log_in(social_login_visitor, op_browser)
    assert back.status_int == 303, error_message(back)
    assert "login" in op.interactions()
