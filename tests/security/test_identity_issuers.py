"""A person at a provider is (provider, issuer or server, user id): pointing a tab at another
server never hands the old server's people to the new one's, the old client secret is
never sent to the new server, and disconnecting any link keeps the others working with
every shipped user adapter. The pages name a provider by the editor's button title."""

from __future__ import annotations

import pytest
from pyramid.authentication import SessionAuthenticationHelper
from pyramid.config import Configurator
from pyramid.security import Denied
from sqlalchemy import select

from cms_social_login.interfaces import IUserAdapter
from cms_social_login.models import LinkedIdentity, LoginSettings
from cms_social_login.testing.oidc_emulator import OIDCEmulator
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import (
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    log_out,
    make_browser,
    settings_form,
    start_login,
)

from .helpers import gitlab_server

#: The secret of the site's application at the *second* GitLab server (another one).
SECRET_AT_B = "secret-of-the-second-server-0042"


@pytest.fixture(scope="module")
def gitlab_a():
    with gitlab_server(KIT_CLIENT_SECRET) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gitlab_b():
    with gitlab_server(SECRET_AT_B) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def issuer_b():
    with OIDCEmulator(issuer_path="/realms/other") as emulator:
        emulator.add_client(KIT_CLIENT_ID, SECRET_AT_B, callback_url("oidc"))
        yield emulator


@pytest.fixture
def oidc_emulator(oidc_emulator):
    """The kit's OpenID Connect emulator, its client registered for the ``oidc`` tab (a
    test elsewhere may have registered it for another tab's callback)."""
    oidc_emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url("oidc"))
    return oidc_emulator


@pytest.fixture
def servers(gitlab_a, gitlab_b, issuer_b):
    for emulator in (gitlab_a, gitlab_b, issuer_b):
        emulator.reset()
    return gitlab_a, gitlab_b


def sign_in_with(browser, emulator, provider_name: str, user):
    back = browser.get(callback_path(emulator.approve(start_login(browser, provider_name),
                                                      user=user)))
    assert back.status_int == 303, error_message(back)
    return back.follow()


def identities(dbsession) -> list[tuple[str, str, str, str]]:
    dbsession.expire_all()
    return sorted((i.provider, i.issuer, i.provider_user_id, i.userid)
                  for i in dbsession.scalars(select(LinkedIdentity)))


def test_user_5555_at_a_new_gitlab_does_not_open_the_editors_account(
        social_login_dbsession, social_login_editor, social_login_browser, servers):
    """The review's reproduction: the editor linked GitLab user 5555 at server A; the
    tab moves to server B, where someone else is user 5555."""
    gitlab_a, gitlab_b = servers
    editor = social_login_editor
    fill_tab(editor, "gitlab", {"base_url": gitlab_a.base_url, "client_id": KIT_CLIENT_ID,
                                "client_secret": KIT_CLIENT_SECRET}, "save").follow()
    sign_in_with(editor, gitlab_a, "gitlab", gitlab_a.add_user("Demo Editor", id=5555))

    # Only the URL changes: the stored secret is not kept (it is server A's) and the
    # editor is told what happens to the one person linked through server A.
    form = settings_form(editor, "gitlab")
    form["gitlab.base_url"] = gitlab_b.base_url
    refused = form.submit("action", value="save", status=400)
    field_errors = [p.get_text(" ", strip=True) for p in refused.html.select(".field-error")]
    assert any("type the GitLab Client Secret of the new server again" in e
               for e in field_errors), field_errors
    assert any(e.startswith("1 people signed in through " + gitlab_a.base_url)
               for e in field_errors), field_errors
    form = refused.forms["login-settings-form"]
    form["gitlab.client_secret"] = SECRET_AT_B
    form["gitlab.confirm_server_change"] = True
    saved = form.submit("action", value="save")
    assert saved.status_int == 303, error_message(saved.follow())

    mallory = make_browser(editor.app)
    home = sign_in_with(mallory, gitlab_b, "gitlab", gitlab_b.add_user("Mallory", id=5555))
    assert "Mallory" in home.text and "Demo Editor" not in home.text
    assert mallory.get("/editor/system-pages/login/settings", status=403)
    rows = identities(social_login_dbsession)
    assert [(p, issuer, sub) for p, issuer, sub, _ in rows] == sorted([
        ("gitlab", gitlab_a.base_url, "5555"), ("gitlab", gitlab_b.base_url, "5555")])
    assert rows[0][3] != rows[1][3]  # two people, two accounts
    # Server B's token endpoint only ever saw server B's secret.
    assert {r.form["client_secret"] for r in gitlab_b.requests_to("token")} == {SECRET_AT_B}


def test_nothing_is_stored_until_the_secret_is_typed_and_the_change_confirmed(
        social_login_dbsession, social_login_editor, servers):
    gitlab_a, gitlab_b = servers
    editor = social_login_editor
    fill_tab(editor, "gitlab", {"base_url": gitlab_a.base_url, "client_id": KIT_CLIENT_ID,
                                "client_secret": KIT_CLIENT_SECRET}, "save").follow()
    sign_in_with(editor, gitlab_a, "gitlab", gitlab_a.add_user("Demo Editor", id=5555))
    before = social_login_dbsession.scalars(select(LoginSettings.document)).all()
    form = settings_form(editor, "gitlab")
    form["gitlab.base_url"] = gitlab_b.base_url
    form["gitlab.client_secret"] = SECRET_AT_B  # typed, but the change is not confirmed
    refused = form.submit("action", value="apply", status=400)
    assert refused.html.select_one("#gitlab-confirm-server-change") is not None
    social_login_dbsession.expire_all()
    assert social_login_dbsession.scalars(select(LoginSettings.document)).all() == before


def test_an_issuer_change_keeps_two_people_with_one_subject_apart(
        social_login_dbsession, social_login_editor, social_login_browser, oidc_emulator,
        issuer_b):
    editor = social_login_editor
    fill_tab(editor, "oidc", {"issuer": oidc_emulator.issuer, "client_id": KIT_CLIENT_ID,
                              "client_secret": KIT_CLIENT_SECRET}, "save").follow()
    first = social_login_browser()
    sign_in_with(first, oidc_emulator, "oidc",
                 oidc_emulator.add_user("Alice", "alice@example.org", sub="shared-sub-1"))
    form = settings_form(editor, "oidc")
    form["oidc.issuer"] = issuer_b.issuer
    form["oidc.client_secret"] = SECRET_AT_B
    form = form.submit("action", value="save", status=400).forms["login-settings-form"]
    form["oidc.client_secret"] = SECRET_AT_B
    form["oidc.confirm_server_change"] = True
    assert form.submit("action", value="save").status_int == 303
    second = social_login_browser()
    home = sign_in_with(second, issuer_b, "oidc",
                        issuer_b.add_user("Bob", "bob@example.org", sub="shared-sub-1"))
    assert "Bob" in home.text and "Alice" not in home.text
    rows = identities(social_login_dbsession)
    assert [(issuer, sub) for _p, issuer, sub, _u in rows] == sorted([
        (oidc_emulator.issuer, "shared-sub-1"), (issuer_b.issuer, "shared-sub-1")])
    assert rows[0][3] != rows[1][3]
    assert "Alice" in first.get("/").text  # Alice's own session is untouched


def test_a_settings_import_that_moves_the_server_drops_the_secret(
        social_login_app, social_login_editor, servers):
    from cms_social_login.services.login_settings import ProviderConfig
    from cms_social_login.services.settings_transfer import plan_import

    gitlab_a, gitlab_b = servers
    fill_tab(social_login_editor, "gitlab", {
        "base_url": gitlab_a.base_url, "client_id": KIT_CLIENT_ID,
        "client_secret": KIT_CLIENT_SECRET}, "apply").follow()
    data = {"providers": {"gitlab": {"enabled": True, "values": {
        "base_url": gitlab_b.base_url, "client_id": KIT_CLIENT_ID}}}}
    request = _request(social_login_app)
    request.tm.begin()
    try:
        plan = plan_import(request, data)
    finally:
        request.tm.abort()
    assert not ProviderConfig.from_document(plan.document, "gitlab").secrets
    assert plan.kept_secrets == []
    assert any("base_url changed, so the stored client_secret was dropped" in w
               for w in plan.warnings), plan.warnings


def _request(app):
    from pyramid.scripting import prepare

    env = prepare(registry=app.registry)
    return env["request"]


# ------------------------------------------------------------- disconnect, every adapter


class IdentityOnlyPolicy:
    """A host with no accounts of its own: the session's userid, through the adapter."""

    def __init__(self) -> None:
        self.helper = SessionAuthenticationHelper()

    def identity(self, request):
        userid = self.helper.authenticated_userid(request)
        if not isinstance(userid, str):
            return None
        return request.registry.getUtility(IUserAdapter).get_user(request, userid)

    def authenticated_userid(self, request):
        user = request.identity
        return user.userid if user is not None else None

    def permits(self, request, context, permission):
        return Denied("no editors on this host")

    def remember(self, request, userid, **kw):
        return self.helper.remember(request, userid, **kw)

    def forget(self, request, **kw):
        return self.helper.forget(request, **kw)


def identity_only_site(settings):
    """The add-on with its default ``IdentityUserAdapter`` (the account *is* its first
    identity), on the database the demo site made."""
    with Configurator(settings=settings) as config:
        config.include("cms_social_login")
        config.set_security_policy(IdentityOnlyPolicy())
        config.add_request_method(lambda request: request.social_login_dbsession,
                                  "dbsession", reify=True)
        config.include("cms_demo.views")
    return config.make_wsgi_app()


@pytest.mark.parametrize("adapter", ["default", "demo"])
def test_disconnecting_the_first_identity_keeps_the_other_usable(
        adapter, social_login_settings, social_login_app, social_login_editor,
        social_login_dbsession, servers, oidc_emulator):
    gitlab_a, _gitlab_b = servers
    fill_tab(social_login_editor, "gitlab", {
        "base_url": gitlab_a.base_url, "client_id": KIT_CLIENT_ID,
        "client_secret": KIT_CLIENT_SECRET}, "apply").follow()
    fill_tab(social_login_editor, "oidc", {
        "issuer": oidc_emulator.issuer, "client_id": KIT_CLIENT_ID,
        "client_secret": KIT_CLIENT_SECRET, "button_title": "Acme SSO"}, "save").follow()
    site = identity_only_site(social_login_settings) if adapter == "default" \
        else social_login_app
    browser = make_browser(site)
    # The account is made by GitLab; Acme SSO is connected to it afterwards.
    sign_in_with(browser, gitlab_a, "gitlab", gitlab_a.add_user("Grace Hopper", id=31))
    grace_at_acme = oidc_emulator.add_user("Grace H.", "grace@example.org")
    sign_in_with(browser, oidc_emulator, "oidc", grace_at_acme)
    rows = identities(social_login_dbsession)
    assert len(rows) == 2 and rows[0][3] == rows[1][3]
    page = browser.get("/account/connections")
    gitlab_form = next(form for form in page.forms.values() if "identity" in form.fields
                       and form["identity"].value == str(_identity_id(social_login_dbsession,
                                                                       "gitlab")))
    done = gitlab_form.submit().follow()
    assert "GitLab is disconnected from your account." in done.text
    # The remaining link now carries the account, alone (its Disconnect is disabled).
    assert done.html.select_one(".connection button").has_attr("disabled")
    log_out(browser)
    home = sign_in_with(browser, oidc_emulator, "oidc", grace_at_acme)
    assert "Signed in as" in home.text
    assert "no longer exists" not in home.text
    assert identities(social_login_dbsession)[0][3] == rows[0][3]


def _identity_id(dbsession, provider_name: str) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(LinkedIdentity.id).where(
        LinkedIdentity.provider == provider_name))


def test_the_editors_button_title_names_the_provider_to_visitors(
        social_login_editor, social_login_browser, oidc_emulator):
    fill_tab(social_login_editor, "oidc", {
        "issuer": oidc_emulator.issuer, "client_id": KIT_CLIENT_ID,
        "client_secret": KIT_CLIENT_SECRET, "button_title": "Acme SSO"}, "save").follow()
    visitor = social_login_browser()
    ada = oidc_emulator.add_user("Ada", "ada@example.org")  # signed in at the provider
    cancelled = visitor.get(callback_path(oidc_emulator.deny(start_login(visitor, "oidc"))))
    assert "The Acme SSO login was cancelled" in error_message(cancelled.follow())
    sign_in_with(visitor, oidc_emulator, "oidc", ada)
    page = visitor.get("/account/connections")
    assert page.html.select_one(".connection-name strong").get_text() == "Acme SSO"
    assert page.html.select_one(".connection button").get_text(strip=True) \
        == "Disconnect Acme SSO"
