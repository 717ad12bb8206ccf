"""A secret typed before OK travels back in the form as a pending token: it works only for
the provider, field and server it was typed for, is checked like a typed value, and no
other token the site makes (a secret at rest, a Test login kept in the session) passes
for one. Otherwise an editor could replay a token to send a stored client secret to a
server of their choice (the outside review's reproduction)."""

from __future__ import annotations

import pytest

from cms_social_login.crypto import PENDING_SECRET, purpose_box, seal
from cms_social_login.models import LoginSettings
from cms_social_login.services.test_login import PENDING_KEY
from cms_social_login.session import COOKIE_NAME, RotatingSignedSerializer
from cms_social_login.testing.plugin import KIT_CLIENT_ID
from cms_social_login.testing.steps import fill_tab, settings_form, sign_in

from .helpers import dbsession_of, gitlab_server

SECRET_AT_A = "the-secret-of-server-a-0001"
SECRET_AT_B = "the-secret-of-server-b-0002"
TYPE_AGAIN = "Please type GitLab Client Secret again."


@pytest.fixture(scope="module")
def gitlab_a():
    with gitlab_server(SECRET_AT_A) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gitlab_b():
    with gitlab_server(SECRET_AT_B) as emulator:
        yield emulator


@pytest.fixture
def servers(gitlab_a, gitlab_b):
    for emulator in (gitlab_a, gitlab_b):
        emulator.reset()
    return gitlab_a, gitlab_b


@pytest.fixture
def saved_at_a(editor, servers):
    """The editor saved GitLab at server A with A's secret."""
    gitlab_a, _gitlab_b = servers
    fill_tab(editor, "gitlab", {"base_url": gitlab_a.base_url, "client_id": KIT_CLIENT_ID,
                                "client_secret": SECRET_AT_A}, "save").follow()
    return editor


def _post(browser, changes: dict[str, str], action: str, status="*"):
    """Post the GitLab tab as the dialog shows it, with ``changes`` (hidden fields too)."""
    form = settings_form(browser, "gitlab")
    fields = [(k, v) for k, v in form.submit_fields() if k != "action" and k not in changes]
    return browser.post("/editor/system-pages/login/settings",
                        params=fields + list(changes.items()) + [("action", action)],
                        status=status)


def _pending_of(page) -> str:
    return page.html.find("input", {"name": "gitlab.client_secret.pending"})["value"]


def _session_data(app, browser) -> dict:
    """What the browser's session cookie holds (Pyramid's [accessed, created, data])."""
    raw = next(c.value for c in browser.cookiejar if c.name == COOKIE_NAME)
    serializer = RotatingSignedSerializer(app.registry.social_login_settings.secret_keys)
    return serializer.loads(raw.strip('"').encode())[2]


def test_a_test_login_kept_in_the_session_is_no_pending_secret(app, saved_at_a, servers,
                                                                 make_browser):
    """The review's reproduction: another editor starts a Test login of the saved tab,
    takes the state from their own cookie and posts it as the pending secret of a tab
    pointed at their server B. Verify refuses it and B receives nothing."""
    _gitlab_a, gitlab_b = servers
    mallory = make_browser()
    sign_in(mallory)
    assert _post(mallory, {}, "test-gitlab").status_int == 302
    state = _session_data(app, mallory)[PENDING_KEY]

    page = _post(mallory, {"gitlab.base_url": gitlab_b.base_url,
                           "gitlab.client_secret.pending": state,
                           "gitlab.confirm_server_change": "on"}, "verify-gitlab")
    assert page.status_int == 400
    assert TYPE_AGAIN in page.text
    assert gitlab_b.requests_to("token") == []


def test_a_secret_at_rest_is_no_pending_secret(app, saved_at_a, servers):
    """The stored ciphertext of A's secret, posted as the pending secret of a tab at B,
    is refused: B never sees A's secret."""
    _gitlab_a, gitlab_b = servers
    with dbsession_of(app) as db:
        draft = db.get(LoginSettings, ("default", "draft"))
        stored = draft.document["gitlab"]["secrets"]["client_secret"]
    for action in ("verify-gitlab", "apply"):
        page = _post(saved_at_a, {"gitlab.base_url": gitlab_b.base_url,
                                  "gitlab.client_secret.pending": stored,
                                  "gitlab.confirm_server_change": "on"}, action)
        assert page.status_int == 400
        assert TYPE_AGAIN in page.text
    assert gitlab_b.requests_to("token") == []


def test_a_pending_secret_works_only_for_the_server_it_was_typed_for(app, saved_at_a,
                                                                      servers):
    """A secret typed for A (the form came back for another field's error) carries over
    at A; the same token with the URL changed to B is refused."""
    gitlab_a, gitlab_b = servers
    page = _post(saved_at_a, {"gitlab.client_secret": SECRET_AT_A,
                              "gitlab.allowed_groups": "not a group!"}, "ok")
    assert page.status_int == 400
    token = _pending_of(page)
    assert SECRET_AT_A not in page.text

    moved = _post(saved_at_a, {"gitlab.base_url": gitlab_b.base_url,
                               "gitlab.client_secret.pending": token,
                               "gitlab.confirm_server_change": "on"}, "verify-gitlab")
    assert moved.status_int == 400 and TYPE_AGAIN in moved.text
    assert gitlab_b.requests_to("token") == []

    kept = _post(saved_at_a, {"gitlab.client_secret.pending": token}, "verify-gitlab")
    assert TYPE_AGAIN not in kept.text
    assert [r.form["client_secret"] for r in gitlab_a.requests_to("token")] == [SECRET_AT_A]


def test_a_pending_secret_of_another_field_or_provider_is_refused(app, saved_at_a, servers):
    """A token made for GitLab's client secret is no OpenID Connect client secret."""
    gitlab_a, _gitlab_b = servers
    page = _post(saved_at_a, {"gitlab.client_secret": SECRET_AT_A,
                              "gitlab.allowed_groups": "not a group!"}, "ok")
    token = _pending_of(page)
    form = settings_form(saved_at_a, "oidc")
    fields = [(k, v) for k, v in form.submit_fields() if k != "action"]
    other = saved_at_a.post("/editor/system-pages/login/settings", status="*", params=fields + [
        ("oidc.client_secret.pending", token), ("action", "ok")])
    assert other.status_int == 400
    # Refused by the OpenID Connect field (GitLab's own field had no token posted).
    message = other.html.find(id="oidc-client_secret-error")
    assert message is not None, other.text
    assert "Please type OpenID Connect Client Secret again." in message.get_text(" ", strip=True)


def test_a_pending_secret_is_checked_like_a_typed_one(app, saved_at_a, servers):
    """A well-made token for the right tab whose value the field would refuse (here: a
    line break, as a typed value gets refused) is refused too."""
    gitlab_a, _gitlab_b = servers
    box = purpose_box(app.registry, PENDING_SECRET)
    binding = {"provider": "gitlab", "field": "client_secret",
               "endpoint.base_url": gitlab_a.base_url}
    typed = _post(saved_at_a, {"gitlab.client_secret": "two\nlines"}, "apply")
    assert typed.status_int == 400
    token = seal(box, PENDING_SECRET, binding, "two\nlines")
    page = _post(saved_at_a, {"gitlab.client_secret.pending": token}, "apply")
    assert page.status_int == 400 and TYPE_AGAIN in page.text
    good = seal(box, PENDING_SECRET, binding, SECRET_AT_A)
    assert _post(saved_at_a, {"gitlab.client_secret.pending": good}, "apply").status_int == 303
