"""Many sites, one deployment (issue 14): what belongs to one site stays on that site.

The demo serves ``site-a.localhost`` (editor ``editor-a``) and ``site-b.localhost``
(editor ``editor-b``) besides the default site (``localhost``, editor ``editor``), all
from one database. Each site registers its own Bitbucket consumer.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cms_social_login.models import (
    AuditEvent,
    LinkedIdentity,
    LoginSettings,
    PublishRecord,
    SignedInSession,
)
from cms_social_login.testing import steps
from cms_social_login.testing.steps import query_of

from .helpers import (
    CONSUMERS,
    HOST_A,
    HOST_B,
    HOST_DEFAULT,
    callback_url,
    connect_bitbucket_as_editor_a,
    path_on,
    publish_bitbucket,
)

EDITOR = "/editor/system-pages/login"
#: Every editor page (GET), with the history page of a version both sites have.
EDITOR_PAGES = ["/editor", "/editor/system-pages", EDITOR, f"{EDITOR}/settings",
                f"{EDITOR}/preview", f"{EDITOR}/test-login", f"{EDITOR}/history",
                f"{EDITOR}/history/1", f"{EDITOR}/audit", f"{EDITOR}/audit?format=csv"]
#: Every editor form (POST), each with the fields it takes.
EDITOR_POSTS = [
    (f"{EDITOR}/settings", {"action": "save", "draft_version": "1", "bitbucket.enabled": "on",
                            "bitbucket.client_id": "stolen-key",
                            "bitbucket.client_secret": "stolen-secret"}),
    (f"{EDITOR}/preview", {"draft_version": "1"}),
    (f"{EDITOR}/test-login/bitbucket", {}),
    (f"{EDITOR}/history/1", {"action": "publish-version", "draft_version": "1",
                             "confirm_replace_draft": "on"}),
]


def dbsession_of(app):
    return app.registry["cms_social_login.dbsession_factory"]()


def site_rows(app, site: str) -> dict:
    """Everything ``site`` holds in the per-site tables that an editor can change."""
    with dbsession_of(app) as db:
        return {
            "settings": {r.stage: (r.version, r.document) for r in db.scalars(
                select(LoginSettings).where(LoginSettings.site == site))},
            "history": [(r.version, r.document) for r in db.scalars(
                select(PublishRecord).where(PublishRecord.site == site)
                .order_by(PublishRecord.id))],
            "audit": [(r.kind, r.action, r.actor) for r in db.scalars(
                select(AuditEvent).where(AuditEvent.site == site).order_by(AuditEvent.id))],
        }


def authorize_client_id(browser) -> str:
    """Click "Log in with Bitbucket"; the consumer key the site sends the visitor with."""
    return query_of(steps.start_login(browser, "bitbucket"))["client_id"]


def test_each_site_publishes_its_own_consumer_and_the_default_site_none(
        app, published_sites, browser_at):
    assert authorize_client_id(browser_at(HOST_A)) == CONSUMERS[HOST_A][0]
    assert authorize_client_id(browser_at(HOST_B)) == CONSUMERS[HOST_B][0]
    assert steps.login_buttons(browser_at(HOST_DEFAULT).get("/login"), "bitbucket") == []
    assert site_rows(app, "default") == {"settings": {}, "history": [], "audit": []}


def test_the_editors_tab_shows_the_sites_own_callback_url(site_consumers, editor_a, editor_b):
    for browser, host in ((editor_a, HOST_A), (editor_b, HOST_B)):
        page = browser.get(f"{EDITOR}/settings?tab=bitbucket")
        assert callback_url(host) in page.text
        other = HOST_B if host == HOST_A else HOST_A
        assert callback_url(other) not in page.text


@pytest.fixture
def editor_a_on_site_b(browser_at):
    """``editor-a`` (an editor of site-a only) signed in on site-b."""
    browser = browser_at(HOST_B)
    steps.sign_in(browser, "editor-a", "editor-a")
    return browser


@pytest.mark.parametrize("path", EDITOR_PAGES)
def test_an_editor_of_site_a_cannot_open_any_editor_page_of_site_b(
        published_sites, editor_a_on_site_b, path):
    page = editor_a_on_site_b.get(path, status=403)
    assert "stolen" not in page.text and CONSUMERS[HOST_B][0] not in page.text


@pytest.mark.parametrize("path", EDITOR_PAGES)
def test_the_default_sites_editor_cannot_open_site_as_editor_pages(
        published_sites, browser_at, path):
    browser = browser_at(HOST_A)
    steps.sign_in(browser)  # editor / editor: the default site's editor
    browser.get(path, status=403)


@pytest.mark.parametrize(("path", "fields"), EDITOR_POSTS)
def test_an_editor_of_site_a_cannot_change_site_b_through_any_editor_form(
        app, published_sites, editor_a_on_site_b, path, fields):
    before = site_rows(app, "site-b")
    # A real CSRF token of this browser's session: only the permission can refuse.
    token = editor_a_on_site_b.get("/logout").forms[0]["csrf_token"].value
    editor_a_on_site_b.post(path, {**fields, "csrf_token": token}, status=403)
    assert site_rows(app, "site-b") == before
    assert authorize_client_id(editor_a_on_site_b) == CONSUMERS[HOST_B][0]


@pytest.mark.parametrize(("path", "fields"), EDITOR_POSTS)
def test_each_editor_form_changes_only_its_own_site(
        app, published_sites, path, fields):
    editor_a, _editor_b = published_sites
    publish_bitbucket(editor_a, HOST_A, "apply")  # a draft for the preview's Save
    before_b = site_rows(app, "site-b")
    before_a = site_rows(app, "site-a")
    token = editor_a.get("/logout").forms[0]["csrf_token"].value
    draft_version = str(before_a["settings"]["draft"][0])
    fields = {**fields, "draft_version": draft_version} if "draft_version" in fields \
        else fields
    response = editor_a.post(path, {**fields, "csrf_token": token})
    if path.endswith("/test-login/bitbucket"):  # stores nothing: off to site-a's consumer
        assert query_of(response.location)["client_id"] == CONSUMERS[HOST_A][0]
    else:  # the form did its work (each publishes a version), on site-a
        assert response.status_int == 303
        assert len(site_rows(app, "site-a")["history"]) == len(before_a["history"]) + 1
    assert site_rows(app, "site-b") == before_b


def test_history_and_audit_show_the_sites_own_only(app, published_sites):
    editor_a, editor_b = published_sites
    publish_bitbucket(editor_b, HOST_B).follow()  # site-b: versions 1 and 2
    assert f"{EDITOR}/history/2" in editor_b.get(f"{EDITOR}/history").text
    assert f"{EDITOR}/history/2" not in editor_a.get(f"{EDITOR}/history").text
    editor_a.get(f"{EDITOR}/history/2", status=404)  # site-b's version 2, not site-a's
    assert [version for version, _document in site_rows(app, "site-a")["history"]] == [1]
    csv_a = editor_a.get(f"{EDITOR}/audit?format=csv").text
    assert "editor-b" not in csv_a.lower() and "site-b" not in csv_a
    assert [kind for kind, _action, _actor in site_rows(app, "site-a")["audit"]] \
        == ["editor"]
    assert len(site_rows(app, "site-b")["audit"]) == 2


def test_a_login_started_on_site_a_never_completes_on_site_b(
        app, published_sites, browser_at, bitbucket, bitbucket_user):
    on_a = browser_at(HOST_A)
    location = bitbucket.approve(steps.start_login(on_a, "bitbucket"))
    # The same browser (its session cookie copied: a shared parent domain, say) brings
    # site-a's code and state to site-b.
    on_b = browser_at(HOST_B)
    for cookie in on_a.cookiejar:
        on_b.set_cookie(cookie.name, cookie.value)
    page = on_b.get(path_on(location, HOST_A)).maybe_follow()
    assert "expired or was already used" in page.text
    with dbsession_of(app) as db:
        assert db.scalar(select(func.count()).select_from(LinkedIdentity)) == 0


def test_the_same_bitbucket_person_on_two_sites_is_two_local_accounts(
        app, published_sites, browser_at, bitbucket, bitbucket_user):
    for host in (HOST_A, HOST_B):
        visitor = browser_at(host)
        location = bitbucket.approve(steps.start_login(visitor, "bitbucket"))
        visitor.get(path_on(location, host)).follow()
        assert "Ada Lovelace" in visitor.get("/account/connections").text
    with dbsession_of(app) as db:
        identities = {row.site: row.userid for row in db.scalars(select(LinkedIdentity))}
    assert set(identities) == {"site-a", "site-b"}
    assert identities["site-a"] != identities["site-b"]


def test_a_connection_of_site_a_cannot_be_disconnected_on_site_b(
        app, published_sites, browser_at, bitbucket, bitbucket_user):
    # editor-a (a platform account) connects Bitbucket on site-a ...
    connect_bitbucket_as_editor_a(browser_at(HOST_A), bitbucket)
    with dbsession_of(app) as db:
        identity = db.scalar(select(LinkedIdentity))
    # ... and on site-b sees no connection, and cannot remove site-a's.
    on_b = browser_at(HOST_B)
    steps.sign_in(on_b, "editor-a", "editor-a")
    page = on_b.get("/account/connections")
    assert "Ada Lovelace" not in page.text
    token = page.forms["logout-everywhere"]["csrf_token"].value
    on_b.post("/account/connections", {"identity": str(identity.id), "csrf_token": token},
              status=400)
    with dbsession_of(app) as db:
        assert db.get(LinkedIdentity, identity.id) is not None


def test_a_connection_of_site_a_does_not_hide_connect_on_site_b(
        app, published_sites, browser_at, bitbucket, bitbucket_user):
    # editor-a (one platform account, signed in on both sites) connects Bitbucket on site-a.
    on_a = connect_bitbucket_as_editor_a(browser_at(HOST_A), bitbucket)
    assert steps.login_buttons(on_a.get("/login"), "bitbucket") == []  # linked on site-a
    # On site-b nothing is linked: its login page still offers "Connect Bitbucket".
    on_b = browser_at(HOST_B)
    steps.sign_in(on_b, "editor-a", "editor-a")
    page = on_b.get("/login")
    assert "Signed in as" in page.text
    assert [a.get_text(strip=True) for a in steps.login_buttons(page, "bitbucket")] == [
        "Connect Bitbucket"]


def test_a_signed_in_session_counts_only_on_its_own_site(app, editor_a, browser_at):
    on_b = browser_at(HOST_B)
    for cookie in editor_a.cookiejar:  # site-a's signed-in cookie, replayed on site-b
        on_b.set_cookie(cookie.name, cookie.value)
    on_b.get(f"{EDITOR}/settings", status=303)  # anonymous there: sent to log in
    assert editor_a.get(f"{EDITOR}/settings").status_int == 200
    with dbsession_of(app) as db:
        assert set(db.scalars(select(SignedInSession.site))) == {"site-a"}
