"""Restrict GitHub sign-in to organizations and GitLab sign-in to groups.

"Allowed organizations" (GitHub) and "Allowed groups" (GitLab) work like Bitbucket's
"Allowed workspaces": the extra scope is requested only when the field is set, the
memberships are read page by page from the emulators on 127.0.0.1, and everyone else
is refused (audit outcome "refused") without an account being made.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from cms_demo.models import User
from cms_social_login.models import DRAFT, AuditEvent, LinkedIdentity, LoginSettings
from cms_social_login.providers import github as github_provider
from cms_social_login.providers import gitlab as gitlab_provider
from cms_social_login.providers.errors import AccessRestricted, ProviderError
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    callback_path,
    callback_url,
    fill_tab,
    query_of,
    start_login,
)

from ..helpers import endpoints_of
from ..security.helpers import count, dbsession_of

TAB = {"client_id": KIT_CLIENT_ID, "client_secret": KIT_CLIENT_SECRET}
#: The GitLab application's scopes when the editor ticked ``read_api`` too.
GITLAB_SCOPES_WITH_GROUPS = "read_user read_api openid profile email"


@pytest.fixture
def app_settings(app_settings, github_emulator_server, gitlab_emulator_server):
    """The site's settings, pointing GitHub and GitLab at their emulators."""
    return {**app_settings, **endpoints_of("github", github_emulator_server),
            **endpoints_of("gitlab", gitlab_emulator_server)}


@pytest.fixture
def github(github_emulator):
    """The GitHub emulator, reset."""
    return github_emulator


@pytest.fixture
def gitlab(gitlab_emulator) -> Iterator[Any]:
    """The GitLab emulator, reset, its application allowed the ``read_api`` scope."""
    gitlab_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET,
                               callback_url=callback_url("gitlab"),
                               scopes=GITLAB_SCOPES_WITH_GROUPS)
    yield gitlab_emulator
    gitlab_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET,
                               callback_url=callback_url("gitlab"))


def save_tab(editor, provider: str, field: str, allowed: str, action: str = "save",
             status: int | None = None, **extra: str):
    """Fill the tab of ``provider`` with working credentials and ``allowed`` in ``field``."""
    return fill_tab(editor, provider, {**TAB, field: allowed, **extra}, action,
                    status=status)


def log_in(browser, emulator, provider: str, user) -> tuple[str, Any]:
    """Log ``user`` in; the authorize URL and the page the site answers (followed)."""
    authorize = start_login(browser, provider)
    back = browser.get(callback_path(emulator.approve(authorize, user=user)))
    return authorize, (back.follow() if back.status_int in (302, 303) else back)


def signin_events(app) -> list[AuditEvent]:
    """The sign-in events of the audit log."""
    with dbsession_of(app) as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.kind == "signin")))


def field_of(page, provider: str, label_text: str):
    """The input labelled ``label_text`` in the tab of ``provider`` (another installed
    provider may have a field with the same label)."""
    panel = page.html.find(id=f"panel-{provider}")
    label = next(tag for tag in panel.find_all("label") if label_text in tag.get_text())
    return panel.find(id=label["for"])


def provider_of(app, name: str):
    """The site's provider plugin called ``name``."""
    return get_provider_registry(app.registry).get(name)


# --------------------------------------------------------------------------- GitHub


def test_the_github_tab_has_an_allowed_organizations_field(editor):
    page = editor.get("/editor/system-pages/login/settings?tab=github")
    field = field_of(page, "github", "Allowed organizations")
    assert field is not None and field["name"] == "github.allowed_organizations"


def test_a_member_of_an_allowed_organization_logs_in(app, editor, visitor, github):
    save_tab(editor, "github", "allowed_organizations", "ACME, other-team").follow()
    member = github.add_user("grace-gh", name="Grace Hopper", orgs=["navy", "Acme"])
    authorize, home = log_in(visitor, github, "github", member)
    assert query_of(authorize)["scope"] == "read:user user:email read:org"
    assert "Signed in as" in home.text and "Grace Hopper" in home.text
    calls = github.requests_to("orgs")
    assert len(calls) == 1
    assert calls[0].headers["Authorization"].startswith("Bearer ")
    assert calls[0].query["per_page"] == str(github_provider.ORGS_PER_PAGE)
    assert "refused" not in [e.action for e in signin_events(app)]


def test_a_non_member_of_the_organizations_is_refused(app, editor, visitor, github):
    save_tab(editor, "github", "allowed_organizations", "acme").follow()
    users_before = count(app, User)
    outsider = github.add_user("outsider-gh", name="Outsider", orgs=["acme-corp", "else"])
    _authorize, page = log_in(visitor, github, "github", outsider)
    assert page.status_int == 200
    assert github_provider.NOT_A_MEMBER_MESSAGE in page.text
    assert "Traceback" not in page.text
    assert "Signed in as" not in visitor.get("/").text
    assert count(app, User) == users_before
    assert count(app, LinkedIdentity) == 0
    [event] = signin_events(app)
    assert (event.action, event.provider) == ("refused", "github")
    assert "none of the 1 allowed" in event.detail["reason"]


def test_an_account_in_no_organization_is_refused(app, editor, visitor, github):
    save_tab(editor, "github", "allowed_organizations", "acme").follow()
    loner = github.add_user("loner-gh", orgs=[])
    _authorize, page = log_in(visitor, github, "github", loner)
    assert github_provider.NOT_A_MEMBER_MESSAGE in page.text
    assert count(app, LinkedIdentity) == 0


def test_organizations_are_read_page_by_page(app, editor, make_browser, github):
    many = [f"org-{n:03d}" for n in range(github_provider.ORGS_PER_PAGE + 30)]
    save_tab(editor, "github", "allowed_organizations", many[-1]).follow()
    member = github.add_user("many-gh", orgs=many)
    _authorize, home = log_in(make_browser(), github, "github", member)
    assert "Signed in as" in home.text
    assert [c.query["page"] for c in github.requests_to("orgs")] == ["1", "2"]

    # Restricted to an organization the account is not in: every page is read, no more.
    github.reset()
    save_tab(editor, "github", "allowed_organizations", "not-one-of-them").follow()
    _authorize, page = log_in(make_browser(), github, "github", member)
    assert github_provider.NOT_A_MEMBER_MESSAGE in page.text
    assert [c.query["page"] for c in github.requests_to("orgs")] == ["1", "2"]


def test_the_emulator_paginates_orgs_with_a_link_header(app, github):
    member = github.add_user("linked-gh", orgs=["a1", "b2", "c3"])
    token = github.issue_token(KIT_CLIENT_ID, user=member).token
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    first = requests.get(f"{github.api_url}/user/orgs", params={"per_page": 2},
                         headers=headers, timeout=5)
    assert [o["login"] for o in first.json()] == ["a1", "b2"]
    assert first.links["next"]["url"].startswith(github.api_url + "/user/orgs?")
    last = requests.get(first.links["next"]["url"], headers=headers, timeout=5)
    assert [o["login"] for o in last.json()] == ["c3"] and "next" not in last.links


def test_an_empty_organizations_field_means_no_restriction(app, editor, visitor, github):
    save_tab(editor, "github", "allowed_organizations", "  ").follow()
    anyone = github.add_user("anyone-gh", orgs=[])
    authorize, home = log_in(visitor, github, "github", anyone)
    assert "Signed in as" in home.text
    assert query_of(authorize)["scope"] == "read:user user:email"
    assert github.requests_to("orgs") == []


@pytest.mark.parametrize("typed", ["acme_corp", "-acme", "acme-", "acme--x", "a" * 40,
                                   "acme;beta", "ácme", "acme/beta"])
def test_an_invalid_organization_is_refused_by_the_field(app, editor, typed):
    save_tab(editor, "github", "allowed_organizations", "acme", action="apply").follow()
    page = save_tab(editor, "github", "allowed_organizations", typed, action="apply",
                    status=400)
    assert "Nothing was stored" in page.text
    error = page.html.find(id="github-allowed_organizations-error")
    assert error is not None, page.text[:2000]
    assert "letters, digits and single hyphens" in error.get_text()
    with dbsession_of(app) as db:
        draft = db.get(LoginSettings, ("default", DRAFT))
        assert draft.document["github"]["values"]["allowed_organizations"] == "acme"


def test_organization_names_are_parsed_case_insensitively(app, editor):
    typed = " Acme,beta-2  " + "c" * 39 + " ,, ACME "
    save_tab(editor, "github", "allowed_organizations", typed, action="apply").follow()
    with dbsession_of(app) as db:
        stored = db.get(LoginSettings, ("default", DRAFT)).document["github"]["values"]
    assert github_provider.ORGANIZATIONS.parse(stored["allowed_organizations"]) == (
        "acme", "beta-2", "c" * 39)
    assert github_provider.ORGANIZATIONS.parse("") == ()


def test_github_refusal_and_missing_scope(app, github):
    provider = provider_of(app, "github")
    member = github.add_user("direct-gh", orgs=["Acme"])
    token = github.issue_token(KIT_CLIENT_ID, user=member).token
    assert provider.check_membership(token, {"allowed_organizations": "zeta acme"}) == "Acme"
    with pytest.raises(AccessRestricted) as refused:
        provider.check_membership(token, {"allowed_organizations": "zeta"})
    assert refused.value.outcome == "refused"
    assert refused.value.message == github_provider.NOT_A_MEMBER_MESSAGE

    # A token without read:org gets 403 from /user/orgs: a set-up problem, not a refusal.
    narrow = github.issue_token(KIT_CLIENT_ID, user=member,
                                scopes="read:user user:email").token
    with pytest.raises(ProviderError) as failed:
        provider.check_membership(narrow, {"allowed_organizations": "acme"})
    assert not isinstance(failed.value, AccessRestricted)
    assert "not set up correctly" in str(failed.value.message.interpolate())
    assert "refused" in failed.value.cause


def test_github_failing_to_list_organizations_is_a_plain_error(app, editor, visitor,
                                                              github):
    save_tab(editor, "github", "allowed_organizations", "acme").follow()
    member = github.add_user("unlucky-gh", orgs=["acme"])
    github.fail("orgs", status=500)
    _authorize, page = log_in(visitor, github, "github", member)
    assert "GitHub could not tell us your organizations" in page.text
    assert count(app, LinkedIdentity) == 0


def test_a_plugin_pages_with_member_list_page_as_the_guide_shows():
    # The guide's member_pages hands member_list_page's answer (None for a 404) straight
    # to numbered_pages: a missing page ends the list instead of a TypeError (a 500).
    from cms_social_login.providers import TokenEndpointError, numbered_pages

    assert TokenEndpointError("invalid_client", 400).error == "invalid_client"
    pages = {1: [{"name": "a"}, {"name": "b"}], 2: None}
    assert list(numbered_pages(pages.get, "name", per_page=2)) == [["a", "b"], []]


# --------------------------------------------------------------------------- GitLab


def test_the_gitlab_tab_has_an_allowed_groups_field(editor):
    page = editor.get("/editor/system-pages/login/settings?tab=gitlab")
    field = field_of(page, "gitlab", "Allowed groups")
    assert field is not None and field["name"] == "gitlab.allowed_groups"


def test_a_member_of_a_subgroup_of_an_allowed_group_logs_in(app, editor, visitor, gitlab):
    save_tab(editor, "gitlab", "allowed_groups", "elsewhere, ACME").follow()
    member = gitlab.add_user("Linus GL", username="linus-gl",
                             groups=["other", "acme/platform"])
    authorize, home = log_in(visitor, gitlab, "gitlab", member)
    assert query_of(authorize)["scope"] == "read_user read_api"
    assert "Signed in as" in home.text and "Linus GL" in home.text
    [call] = gitlab.requests_to("groups")
    assert call.headers["Authorization"].startswith("Bearer ")
    assert call.query["min_access_level"] == "10"
    assert call.query["per_page"] == str(gitlab_provider.GROUPS_PER_PAGE)


def test_a_member_of_a_parent_group_is_a_member_of_its_subgroups(app, editor, visitor,
                                                                gitlab):
    gitlab.add_group("Parent-Co/Platform")
    save_tab(editor, "gitlab", "allowed_groups", "parent-co/platform").follow()
    member = gitlab.add_user("Owner GL", username="owner-gl", groups={"Parent-Co": 50})
    _authorize, home = log_in(visitor, gitlab, "gitlab", member)
    assert "Signed in as" in home.text


def test_a_non_member_of_the_groups_is_refused(app, editor, visitor, gitlab):
    save_tab(editor, "gitlab", "allowed_groups", "acme/platform").follow()
    users_before = count(app, User)
    # A sibling subgroup, a parent-less look-alike: neither is inside acme/platform.
    outsider = gitlab.add_user("Outsider GL", username="outsider-gl",
                               groups=["acme/other", "acme-platform", "acme/platformer"])
    _authorize, page = log_in(visitor, gitlab, "gitlab", outsider)
    assert page.status_int == 200
    assert gitlab_provider.NOT_A_MEMBER_MESSAGE in page.text
    assert "Signed in as" not in visitor.get("/").text
    assert count(app, User) == users_before
    assert count(app, LinkedIdentity) == 0
    [event] = signin_events(app)
    assert (event.action, event.provider) == ("refused", "gitlab")
    assert "none of the 1 allowed" in event.detail["reason"]


def test_groups_are_read_page_by_page(app, editor, make_browser, gitlab):
    many = [f"grp-{n:03d}" for n in range(gitlab_provider.GROUPS_PER_PAGE + 30)]
    save_tab(editor, "gitlab", "allowed_groups", many[-1]).follow()
    member = gitlab.add_user("Many GL", username="many-gl", groups=many)
    _authorize, home = log_in(make_browser(), gitlab, "gitlab", member)
    assert "Signed in as" in home.text
    assert [c.query["page"] for c in gitlab.requests_to("groups")] == ["1", "2"]

    gitlab.reset()
    save_tab(editor, "gitlab", "allowed_groups", "not-one-of-them").follow()
    _authorize, page = log_in(make_browser(), gitlab, "gitlab", member)
    assert gitlab_provider.NOT_A_MEMBER_MESSAGE in page.text
    assert [c.query["page"] for c in gitlab.requests_to("groups")] == ["1", "2"]


def test_the_emulator_paginates_groups_with_next_page_headers(app, gitlab):
    member = gitlab.add_user("Paged GL", username="paged-gl", groups=["pa", "pb", "pc"])
    token = gitlab.issue_token(KIT_CLIENT_ID, user=member).token
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{gitlab.api_url}/groups"
    first = requests.get(url, params={"per_page": 2, "min_access_level": 10},
                         headers=headers, timeout=5)
    assert [g["full_path"] for g in first.json()] == ["pa", "pb"]
    assert first.headers["X-Next-Page"] == "2" and first.headers["X-Total"] == "3"
    last = requests.get(url, params={"per_page": 2, "page": 2, "min_access_level": 10},
                        headers=headers, timeout=5)
    assert [g["full_path"] for g in last.json()] == ["pc"]
    assert last.headers["X-Next-Page"] == ""


def test_an_empty_groups_field_means_no_restriction(app, editor, visitor, gitlab):
    save_tab(editor, "gitlab", "allowed_groups", "").follow()
    anyone = gitlab.add_user("Anyone GL", username="anyone-gl")
    authorize, home = log_in(visitor, gitlab, "gitlab", anyone)
    assert "Signed in as" in home.text
    assert query_of(authorize)["scope"] == "read_user"
    assert gitlab.requests_to("groups") == []


def test_groups_of_a_self_hosted_gitlab(app, editor, visitor, gitlab):
    save_tab(editor, "gitlab", "allowed_groups", "acme", base_url=gitlab.base_url).follow()
    member = gitlab.add_user("Hosted GL", username="hosted-gl", groups=["acme"])
    _authorize, home = log_in(visitor, gitlab, "gitlab", member)
    assert "Signed in as" in home.text
    assert gitlab.requests_to("groups")[0].path == "/api/v4/groups"


@pytest.mark.parametrize("typed", ["acme;beta", "ácme", "acme\\beta", "https://gitlab.com/acme",
                                   "acme//beta", "/acme", "acme+beta"])
def test_an_invalid_group_is_refused_by_the_field(app, editor, typed):
    save_tab(editor, "gitlab", "allowed_groups", "acme", action="apply").follow()
    page = save_tab(editor, "gitlab", "allowed_groups", typed, action="apply", status=400)
    assert "Nothing was stored" in page.text
    error = page.html.find(id="gitlab-allowed_groups-error")
    assert error is not None, page.text[:2000]
    assert "letters, digits, _, -, . and /" in error.get_text()
    with dbsession_of(app) as db:
        draft = db.get(LoginSettings, ("default", DRAFT))
        assert draft.document["gitlab"]["values"]["allowed_groups"] == "acme"


def test_group_paths_are_parsed_case_insensitively(app, editor):
    save_tab(editor, "gitlab", "allowed_groups", " Acme/Platform,beta.x  g_1 ,, acme/platform ",
             action="apply").follow()
    with dbsession_of(app) as db:
        stored = db.get(LoginSettings, ("default", DRAFT)).document["gitlab"]["values"]
    assert gitlab_provider.GROUPS.parse(stored["allowed_groups"]) == (
        "acme/platform", "beta.x", "g_1")
    assert gitlab_provider.GROUPS.match("ACME/Platform/Web", ("acme/platform",)) \
        == "acme/platform"
    assert gitlab_provider.GROUPS.match("acme/platformer", ("acme/platform",)) is None


def test_gitlab_refusal_and_missing_scope(app, gitlab):
    provider = provider_of(app, "gitlab")
    member = gitlab.add_user("Direct GL", username="direct-gl", groups=["acme/web"])
    token = gitlab.issue_token(KIT_CLIENT_ID, user=member).token
    assert provider.check_membership(token, {"allowed_groups": "zeta acme"}) == "acme/web"
    with pytest.raises(AccessRestricted) as refused:
        provider.check_membership(token, {"allowed_groups": "zeta"})
    assert refused.value.outcome == "refused"
    assert refused.value.message == gitlab_provider.NOT_A_MEMBER_MESSAGE

    # read_user alone does not list groups: GitLab answers 403 insufficient_scope.
    narrow = gitlab.issue_token(KIT_CLIENT_ID, user=member, scopes="read_user").token
    with pytest.raises(ProviderError) as failed:
        provider.check_membership(narrow, {"allowed_groups": "acme"})
    assert not isinstance(failed.value, AccessRestricted)
    assert "refused" in failed.value.cause and "read_api" in failed.value.cause


def test_gitlab_failing_to_list_groups_is_a_plain_error(app, editor, visitor, gitlab):
    save_tab(editor, "gitlab", "allowed_groups", "acme").follow()
    member = gitlab.add_user("Unlucky GL", username="unlucky-gl", groups=["acme"])
    gitlab.fail("groups", status=500)
    _authorize, page = log_in(visitor, gitlab, "gitlab", member)
    assert "GitLab could not tell us your groups" in page.text
    assert count(app, LinkedIdentity) == 0
