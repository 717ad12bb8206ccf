"""Every way Bitbucket can fail ends on the login page: a plain message for the visitor,
a log line for the operator, no 5xx, nobody created, no secret or token in the logs."""

from __future__ import annotations

import logging
import socket

import pytest

from cms_demo.models import User
from cms_social_login.models import LinkedIdentity

from ..helpers import CLIENT_SECRET, callback_path, start_login, submit_bitbucket
from .helpers import count

FAILURES = {
    "token endpoint 500": (dict(endpoint="token", status=500, body=b"oops"),
                           "could not complete the login"),
    "token endpoint 503 with JSON": (dict(endpoint="token", status=503,
                                          body='{"error": "temporarily_unavailable"}'),
                                     "could not complete the login"),
    "token answer not JSON": (dict(endpoint="token", status=200, body="<html>hi</html>",
                                   content_type="text/html"), "could not read"),
    "token answer without access_token": (dict(endpoint="token", status=200, body="{}"),
                                          "could not complete the login"),
    "token answer huge": (dict(endpoint="token", status=200, body=b"{" + b" " * 2_000_000),
                          "could not read"),
    "token endpoint too slow": (dict(endpoint="token", status=None, delay=1.5),
                                "could not reach Bitbucket"),
    "profile 500": (dict(endpoint="user", status=500, body="{}"),
                    "could not send your profile"),
    "profile malformed": (dict(endpoint="user", status=200, body="{not json"),
                          "could not read"),
    "profile without uuid": (dict(endpoint="user", status=200,
                                  body='{"type": "user", "display_name": "X"}'),
                             "without an account id"),
    "profile is a list": (dict(endpoint="user", status=200, body="[1, 2]"),
                          "could not send your profile"),
    "emails 401": (dict(endpoint="emails", status=401,
                        body='{"type": "error", "error": {"message": "Access token expired."}}'),
                   "could not send your profile"),
}


@pytest.fixture
def app_settings(app_settings):
    return {**app_settings, "cms_social_login.http_timeout": "0.5"}


def assert_failed_cleanly(app, page, caplog, message):
    # Back on a clean /login (no code or state in the address bar), with the message.
    assert page.status_int == 303 and page.location == "http://localhost/login"
    page = page.follow()
    assert message in page.text
    assert "Traceback" not in page.text
    assert count(app, LinkedIdentity) == 0
    assert count(app, User) == 1  # only the demo editor
    failures = [r for r in caplog.records if r.name.startswith("cms_social_login")
                and "social login failed" in r.getMessage()]
    assert failures, "no log line for the operator"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert CLIENT_SECRET not in logged
    assert "access_token=" not in logged and "Bearer" not in logged


@pytest.mark.parametrize("failure", list(FAILURES), ids=list(FAILURES))
def test_provider_failure(app, published_bitbucket, visitor, bitbucket, bitbucket_user,
                          caplog, failure):
    injection, message = FAILURES[failure]
    authorize = start_login(visitor)
    location = bitbucket.approve(authorize)
    bitbucket.fail(**injection)
    caplog.set_level(logging.INFO)
    page = visitor.get(callback_path(location), status="*")
    assert_failed_cleanly(app, page, caplog, message)


def test_denied_consent(app, published_bitbucket, visitor, bitbucket, bitbucket_user, caplog):
    caplog.set_level(logging.INFO)
    page = visitor.get(callback_path(bitbucket.deny(start_login(visitor))))
    assert_failed_cleanly(app, page, caplog, "login was cancelled")


def test_any_error_parameter_is_a_denial(app, published_bitbucket, visitor, bitbucket,
                                         caplog):
    from ..helpers import query_of

    state = query_of(start_login(visitor))["state"]
    caplog.set_level(logging.INFO)
    page = visitor.get(f"/login/bitbucket/callback?error=server_error&state={state}")
    assert_failed_cleanly(app, page, caplog, "login was cancelled")


def test_invalid_code(app, published_bitbucket, visitor, bitbucket, bitbucket_user, caplog):
    location = bitbucket.approve(start_login(visitor))
    bitbucket.expire_codes()
    caplog.set_level(logging.INFO)
    page = visitor.get(callback_path(location))
    assert_failed_cleanly(app, page, caplog, "code was not accepted")


def test_invalid_client(app, editor, visitor, bitbucket, bitbucket_user, caplog):
    submit_bitbucket(editor, "save", client_id="unknown-client-key").follow()
    authorize = start_login(visitor)
    # Bitbucket itself refuses unknown consumers on its consent page; a stale consumer
    # shows up at the token endpoint.
    location = bitbucket.approve(authorize.replace("unknown-client-key", "bbKey1234567890abcd"))
    caplog.set_level(logging.INFO)
    page = visitor.get(callback_path(location))
    assert_failed_cleanly(app, page, caplog, "not set up correctly")


@pytest.mark.fresh_app  # points the site's provider object at a closed port
def test_connection_refused(app, app_settings, published_bitbucket, visitor, bitbucket,
                            bitbucket_user, caplog):
    from cms_social_login.providers.registry import get_provider_registry

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    provider = get_provider_registry(app.registry).get("bitbucket")
    location = bitbucket.approve(start_login(visitor))
    provider.token_url = f"http://127.0.0.1:{closed_port}/site/oauth2/access_token"
    caplog.set_level(logging.INFO)
    page = visitor.get(callback_path(location))
    assert_failed_cleanly(app, page, caplog, "could not reach Bitbucket")


def test_no_confirmed_primary_email(app, published_bitbucket, visitor, bitbucket, caplog):
    user = bitbucket.add_user("Unconfirmed", emails=[
        {"email": "u@example.org", "is_primary": True, "is_confirmed": False},
        {"email": "other@example.org", "is_primary": False, "is_confirmed": True}])
    caplog.set_level(logging.INFO)
    location = bitbucket.approve(start_login(visitor), user=user)
    page = visitor.get(callback_path(location))
    assert_failed_cleanly(app, page, caplog, "no confirmed primary email address")


def test_emails_over_several_pages(app, published_bitbucket, visitor, bitbucket):
    emails = [{"email": f"e{i}@example.org", "is_primary": False, "is_confirmed": True}
              for i in range(23)]
    emails.append({"email": "primary@example.org", "is_primary": True, "is_confirmed": True})
    user = bitbucket.add_user("Many Mails", emails=emails)
    location = bitbucket.approve(start_login(visitor), user=user)
    visitor.get(callback_path(location)).follow()
    assert len(bitbucket.requests_to("emails")) == 3
    from sqlalchemy import select

    from .helpers import dbsession_of

    with dbsession_of(app) as db:
        assert db.scalar(select(User.email).where(User.display_name == "Many Mails")) \
            == "primary@example.org"
