"""A signed-in user sees their linked providers, connects another and disconnects one, but
never the last way to sign in: that button is disabled, with the reason beside it and only
the ways this site offers. The pages name providers by the editor's button title."""

from __future__ import annotations

from sqlalchemy import select

from cms_demo.users import DemoUserAdapter
from cms_social_login.models import LinkedIdentity
from cms_social_login.testing.steps import fill_tab, make_browser, sign_in

from .helpers import callback_path, demo_host, start_login, submit_bitbucket
from .security.helpers import count, dbsession_of

PAGE = "/account/connections"


def sign_in_with_bitbucket(browser, bitbucket):
    browser.get(callback_path(bitbucket.approve(start_login(browser)))).follow()


def disconnect_forms(page) -> list:
    return [form for form in page.forms.values() if "identity" in form.fields]


def test_the_last_way_in_cannot_be_disconnected_and_the_page_says_why(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    sign_in_with_bitbucket(visitor, bitbucket)
    page = visitor.get(PAGE)
    assert "Bitbucket" in page.text and "Ada Lovelace" in page.text
    button = page.html.select_one(".connection button")
    assert button.has_attr("disabled")
    reason = page.html.select_one("#" + button["aria-describedby"]).get_text(" ", strip=True)
    # No other provider is published, and the demo has no page to set a password.
    assert reason == "It is your only way to sign in."
    refused = disconnect_forms(page)[0].submit(status=409)  # forced anyway: refused
    assert "This is your only way to sign in" in refused.text
    assert count(app, LinkedIdentity) == 1


def test_the_reason_suggests_the_providers_this_site_publishes(
        app, published_bitbucket, visitor, bitbucket, bitbucket_user):
    fill_tab(published_bitbucket, "github", {"client_id": "gh-client-0001",
                                             "client_secret": "gh-secret-0001"}, "save")
    sign_in_with_bitbucket(visitor, bitbucket)
    reason = visitor.get(PAGE).html.select_one(".disconnect-reason").get_text(" ", strip=True)
    assert reason == "It is your only way to sign in. Connect GitHub first."


def test_an_account_with_a_password_may_disconnect(app, published_bitbucket, bitbucket,
                                                   bitbucket_user):
    editor = published_bitbucket
    page = editor.get(PAGE)
    assert "No provider is connected" in page.text
    connect = next(a for a in page.html.select("a.provider-button")
                   if "Connect Bitbucket" in a.get_text())
    authorize = editor.get(connect["href"]).location
    back = editor.get(callback_path(bitbucket.approve(authorize)))
    assert back.location.endswith(PAGE)
    page = back.follow()
    assert "Ada Lovelace" in page.text
    assert not page.html.select_one(".connection button").has_attr("disabled")
    done = disconnect_forms(page)[0].submit().follow()
    assert "Bitbucket is disconnected from your account" in done.text
    assert count(app, LinkedIdentity) == 0


def test_a_provider_account_of_someone_else_cannot_be_connected(
        app, published_bitbucket, make_browser, bitbucket, bitbucket_user):
    member = make_browser()
    sign_in_with_bitbucket(member, bitbucket)
    editor = published_bitbucket
    page = editor.get(callback_path(bitbucket.approve(start_login(editor)))).follow()
    assert "already connected to another account" in page.text
    with dbsession_of(app) as db:
        assert db.scalar(select(LinkedIdentity.userid)) != "1"
    assert "Demo Editor" in editor.get("/").text  # still signed in as themself


def test_only_own_links_can_be_removed(app, published_bitbucket, make_browser, bitbucket,
                                       bitbucket_user):
    member = make_browser()
    sign_in_with_bitbucket(member, bitbucket)
    with dbsession_of(app) as db:
        identity_id = db.scalar(select(LinkedIdentity.id))
    editor = published_bitbucket
    csrf = editor.get(PAGE).forms["logout-everywhere"]["csrf_token"].value
    for value in (str(identity_id), "x", "999", "9" * 40):
        editor.post(PAGE, {"csrf_token": csrf, "identity": value}, status=400)
    assert count(app, LinkedIdentity) == 1


def test_anonymous_visitors_are_sent_to_log_in(visitor):
    assert "/login?came_from=" in visitor.get(PAGE, status=303).location


def test_the_page_is_linked_from_the_demo_header_and_from_login(editor):
    for path in ("/", "/login"):
        links = [a["href"] for a in editor.get(path).html.select("a")]
        assert f"http://localhost{PAGE}" in links, path



def test_the_account_menu_speaks_the_visitors_language_in_the_hosts_header(editor):
    menu = editor.get("/?_LOCALE_=de").html.select_one("nav.account-menu")
    words = menu.get_text(" ", strip=True)
    assert words.startswith("Angemeldet als Demo Editor")
    assert "Verbundene Konten" in words and "Abmelden" in words
    assert menu.select_one("form")["method"] == "post"  # Log out is a POST button


class AdapterWithoutOptionalParts:
    """A host's adapter written against IUserAdapter alone, as the README once showed it:
    password login, but no has_password, no password_page_url (both optional)."""

    password_login = True

    def __init__(self):
        self.demo = DemoUserAdapter()

    def get_user(self, request, userid):
        return self.demo.get_user(request, userid)

    def create_user(self, request, profile, provider_name):
        return self.demo.create_user(request, profile, provider_name)

    def authenticate(self, request, login, password):
        return self.demo.authenticate(request, login, password)

    def find_user_by_email(self, request, email):
        return self.demo.find_user_by_email(request, email)


class AdapterWithAPasswordPage(DemoUserAdapter):
    """A host with a page where a user sets a password."""

    def password_page_url(self, request, userid):
        return request.application_url + "/account/password"


def host_with_adapter(app_settings, adapter):
    with demo_host(app_settings, user_adapter=adapter) as config:
        pass
    return config.make_wsgi_app()


def publish_bitbucket_and_sign_in_a_visitor(host, bitbucket):
    editor = make_browser(host)
    sign_in(editor, "editor", "editor")
    submit_bitbucket(editor, "save")
    visitor = make_browser(host)
    sign_in_with_bitbucket(visitor, bitbucket)
    return visitor


def test_an_adapter_without_has_password_means_no_password(app_settings, bitbucket,
                                                            bitbucket_user):
    host = host_with_adapter(app_settings, AdapterWithoutOptionalParts)
    visitor = publish_bitbucket_and_sign_in_a_visitor(host, bitbucket)
    page = visitor.get(PAGE)  # was a 500: AttributeError has_password
    assert page.status_int == 200 and "Ada Lovelace" in page.text
    assert page.html.select_one(".connection button").has_attr("disabled")
    reason = page.html.select_one(".disconnect-reason").get_text(" ", strip=True)
    assert reason == "It is your only way to sign in."
    assert "password" not in page.text.lower()


def test_a_site_with_a_password_page_suggests_it_and_links_it(app_settings, bitbucket,
                                                            bitbucket_user):
    host = host_with_adapter(app_settings, AdapterWithAPasswordPage)
    page = publish_bitbucket_and_sign_in_a_visitor(host, bitbucket).get(PAGE)
    reason = page.html.select_one(".disconnect-reason").get_text(" ", strip=True)
    assert reason == "It is your only way to sign in. Set a password for your account first."
    link = page.html.find("a", string="Set a password")
    assert link["href"] == "http://localhost/account/password"
