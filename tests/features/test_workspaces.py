"""Restrict Bitbucket sign-in to members of some workspaces ("Allowed workspaces")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cms_demo.models import User
from cms_social_login.models import DRAFT, AuditEvent, LinkedIdentity, LoginSettings
from cms_social_login.providers.bitbucket import (
    NOT_A_MEMBER_MESSAGE,
    WORKSPACES,
    WORKSPACES_PAGELEN,
)
from cms_social_login.providers.errors import AccessRestricted, ProviderError
from cms_social_login.providers.registry import get_provider_registry

from ..helpers import CLIENT_ID, CLIENT_SECRET, callback_path, settings_form, start_login
from ..security.helpers import count, dbsession_of


def save_bitbucket(editor, allowed: str, action: str = "save", status=None):
    """Fill the Bitbucket tab with working credentials and ``allowed`` workspaces."""
    form = settings_form(editor)
    form["bitbucket.enabled"] = True
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = CLIENT_SECRET
    form["bitbucket.allowed_workspaces"] = allowed
    return form.submit("action", value=action, status=status)


def log_in(browser, bitbucket, user):
    """Log ``user`` in with Bitbucket; the page the site answers with (followed)."""
    back = browser.get(callback_path(bitbucket.approve(start_login(browser), user=user)))
    return back.follow() if back.status_int in (302, 303) else back


def test_the_tab_has_an_allowed_workspaces_field(editor):
    page = editor.get("/editor/system-pages/login/settings?tab=bitbucket")
    label = next(tag for tag in page.html.find_all("label")
                 if "Allowed workspaces" in tag.get_text())
    field = page.html.find(id=label["for"])
    assert field is not None and field["name"] == "bitbucket.allowed_workspaces"


def test_a_member_of_an_allowed_workspace_logs_in(app, editor, visitor, bitbucket):
    save_bitbucket(editor, "acme, other-team").follow()
    member = bitbucket.add_user("Grace Hopper", nickname="grace",
                                workspaces=["navy", {"slug": "acme", "administrator": False}])
    home = log_in(visitor, bitbucket, member)
    assert "Signed in as" in home.text and "Grace Hopper" in home.text
    calls = bitbucket.requests_to("workspaces")
    assert len(calls) == 1
    assert calls[0].headers["Authorization"].startswith("Bearer ")
    assert calls[0].query["pagelen"] == str(WORKSPACES_PAGELEN)


def test_a_non_member_is_refused_and_no_account_is_made(app, editor, visitor, bitbucket):
    save_bitbucket(editor, "acme").follow()
    users_before = count(app, User)
    outsider = bitbucket.add_user("Outsider", nickname="outsider", workspaces=["elsewhere"])
    page = log_in(visitor, bitbucket, outsider)
    assert page.status_int == 200
    assert NOT_A_MEMBER_MESSAGE in page.text
    assert "Traceback" not in page.text
    assert "Signed in as" not in visitor.get("/").text
    assert count(app, User) == users_before
    assert count(app, LinkedIdentity) == 0
    # The audit log tells a refusal from an error.
    with dbsession_of(app) as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.kind == "signin")).all()
    assert (event.action, event.provider) == ("refused", "bitbucket")
    assert "none of the 1 allowed" in event.detail["reason"]


def test_an_account_in_no_workspace_at_all_is_refused(app, editor, visitor, bitbucket):
    save_bitbucket(editor, "acme").follow()
    loner = bitbucket.add_user("Loner", nickname="loner", workspaces=[])
    assert NOT_A_MEMBER_MESSAGE in log_in(visitor, bitbucket, loner).text
    assert count(app, LinkedIdentity) == 0


def test_workspaces_are_read_page_by_page(app, editor, make_browser, bitbucket):
    many = [f"team-{n:03d}" for n in range(WORKSPACES_PAGELEN + 20)]
    save_bitbucket(editor, many[-1]).follow()
    member = bitbucket.add_user("Many Teams", nickname="many", workspaces=many)
    home = log_in(make_browser(), bitbucket, member)
    assert "Signed in as" in home.text
    calls = bitbucket.requests_to("workspaces")
    assert [c.query.get("page", "1") for c in calls] == ["1", "2"]

    # The same account, restricted to a workspace it is not in: every page is read.
    bitbucket.reset()
    save_bitbucket(editor, "not-one-of-them").follow()
    page = log_in(make_browser(), bitbucket, member)
    assert NOT_A_MEMBER_MESSAGE in page.text
    assert len(bitbucket.requests_to("workspaces")) == 2


def test_an_empty_field_means_no_restriction(app, editor, visitor, bitbucket):
    save_bitbucket(editor, "   ").follow()
    anyone = bitbucket.add_user("Anyone", nickname="anyone", workspaces=[])
    assert "Signed in as" in log_in(visitor, bitbucket, anyone).text
    assert bitbucket.requests_to("workspaces") == []


@pytest.mark.parametrize("typed", ["Acme", "acme;beta", "acme/beta", "ácme", "acme.beta"])
def test_an_invalid_slug_is_refused_by_the_field(app, editor, typed):
    save_bitbucket(editor, "acme", action="apply").follow()
    page = save_bitbucket(editor, typed, action="apply", status=400)
    assert "Nothing was stored" in page.text
    error = page.html.find(id="bitbucket-allowed_workspaces-error")
    assert error is not None, page.text[:2000]
    assert "lowercase letters, digits, - and _" in error.get_text()
    with dbsession_of(app) as db:
        draft = db.get(LoginSettings, ("default", DRAFT))
        assert draft.document["bitbucket"]["values"]["allowed_workspaces"] == "acme"


def test_slugs_may_be_separated_by_spaces_and_commas(app, editor):
    save_bitbucket(editor, " acme,beta  gamma_1 ,, delta-2 ", action="apply").follow()
    with dbsession_of(app) as db:
        stored = db.get(LoginSettings, ("default", DRAFT)).document["bitbucket"]["values"]
    assert WORKSPACES.parse(stored["allowed_workspaces"]) == ("acme", "beta", "gamma_1",
                                                              "delta-2")
    assert WORKSPACES.parse("") == () and WORKSPACES.parse("a a, a") == ("a",)


def test_a_next_link_off_the_api_host_is_not_followed(app, editor, visitor, bitbucket):
    save_bitbucket(editor, "acme").follow()
    member = bitbucket.add_user("Linked", nickname="linked", workspaces=["acme"])
    bitbucket.fail("workspaces", status=200, body={
        "pagelen": 1, "page": 1, "values": [],
        "next": "http://evil.example/2.0/user/workspaces?page=2"})
    page = log_in(visitor, bitbucket, member)
    assert "Bitbucket sent an answer we could not read" in page.text
    assert count(app, LinkedIdentity) == 0


def test_bitbucket_failing_to_list_workspaces_is_a_plain_error(app, editor, visitor,
                                                              bitbucket):
    save_bitbucket(editor, "acme").follow()
    member = bitbucket.add_user("Unlucky", nickname="unlucky", workspaces=["acme"])
    bitbucket.fail("workspaces", status=500)
    page = log_in(visitor, bitbucket, member)
    assert "Bitbucket could not tell us your workspaces" in page.text
    assert count(app, LinkedIdentity) == 0


def test_refusal_is_its_own_provider_error(app, bitbucket):
    """The audit log tells "refused" from other failures by the exception's class."""
    provider = get_provider_registry(app.registry).get("bitbucket")
    member = bitbucket.add_user("Direct", nickname="direct", workspaces=["acme"])
    token = bitbucket.issue_token(CLIENT_ID, user=member).token
    assert provider.check_membership(token, {"allowed_workspaces": "zeta acme"}) == "acme"
    with pytest.raises(AccessRestricted) as refused:
        provider.check_membership(token, {"allowed_workspaces": "zeta"})
    assert isinstance(refused.value, ProviderError)
    assert refused.value.outcome == "refused"
    assert refused.value.message == NOT_A_MEMBER_MESSAGE


def test_a_consumer_without_the_account_permission_is_an_editor_problem(app, bitbucket):
    """/2.0/user/workspaces needs the ``account`` scope, like /2.0/user."""
    provider = get_provider_registry(app.registry).get("bitbucket")
    member = bitbucket.add_user("Scoped", nickname="scoped", workspaces=["acme"])
    token = bitbucket.issue_token(CLIENT_ID, user=member, scopes="email").token
    with pytest.raises(ProviderError) as failed:
        provider.check_membership(token, {"allowed_workspaces": "acme"})
    assert not isinstance(failed.value, AccessRestricted)
    assert "not set up correctly" in failed.value.message
    assert "Account: Read permission" in failed.value.cause


# --------------------------------------------------------------------------- two endpoints


@pytest.mark.parametrize("answering", [{"workspaces"}, {"permissions_workspaces"}],
                         ids=["user-workspaces-only", "permissions-workspaces-only"])
def test_membership_is_read_from_whichever_endpoint_bitbucket_answers(
        app, editor, visitor, bitbucket, answering):
    """Bitbucket documents ``/2.0/user/permissions/workspaces`` (deprecated, working) and
    reports a newer ``/2.0/user/workspaces``: the newer is asked first, the documented one
    on 404 (BITBUCKET.md)."""
    bitbucket.membership_endpoints = set(answering)
    save_bitbucket(editor, "acme").follow()
    member = bitbucket.add_user("Ada", nickname="ada-ws", workspaces=["acme"])
    assert "Signed in as" in log_in(visitor, bitbucket, member).text
    assert len(bitbucket.requests_to("workspaces")) == 1
    fallback = bitbucket.requests_to("permissions_workspaces")
    assert len(fallback) == (1 if answering == {"permissions_workspaces"} else 0)
    if fallback:
        assert fallback[0].query["pagelen"] == str(WORKSPACES_PAGELEN)


def test_a_non_member_is_refused_on_the_documented_endpoint_too(app, editor, visitor,
                                                                bitbucket):
    bitbucket.membership_endpoints = {"permissions_workspaces"}
    save_bitbucket(editor, "acme").follow()
    outsider = bitbucket.add_user("Out", nickname="out-ws", workspaces=["elsewhere"])
    assert NOT_A_MEMBER_MESSAGE in log_in(visitor, bitbucket, outsider).text
    assert count(app, LinkedIdentity) == 0


def test_neither_endpoint_answering_is_a_plain_error(app, editor, visitor, bitbucket):
    bitbucket.membership_endpoints = set()
    save_bitbucket(editor, "acme").follow()
    member = bitbucket.add_user("Lost", nickname="lost-ws", workspaces=["acme"])
    page = log_in(visitor, bitbucket, member)
    assert "could not tell us your workspaces" in page.text
    assert count(app, LinkedIdentity) == 0
