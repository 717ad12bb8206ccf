"""The Verify credentials button asks Bitbucket whether the typed key and secret work, in
plain words, and stores nothing."""

from __future__ import annotations

from cms_social_login.models import LoginSettings, get_social_login_engine
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET, site_app
from cms_social_login.testing.steps import fill_tab, make_browser, sign_in

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    answers_nothing,
    settings_form,
    submit_bitbucket,
)
from .security.helpers import count


def verify(editor, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, status=200):
    page = submit_bitbucket(editor, "verify-bitbucket", client_id=client_id,
                            client_secret=client_secret, status=status)
    return page.html.find(id="bitbucket-verification").get_text(strip=True), page


def test_working_credentials(app, editor, bitbucket):
    message, page = verify(editor)
    assert message == "These credentials work: Bitbucket accepted the key and secret."
    assert bitbucket.requests_to("token")[0].form["grant_type"] == "client_credentials"
    assert bitbucket.requests_to("token")[0].headers["Authorization"].startswith("Basic ")
    assert count(app, LoginSettings) == 0
    assert CLIENT_SECRET not in page.text
    # The typed values stay in the form, the secret as ciphertext, ready to Apply.
    form = page.forms["login-settings-form"]
    assert form["bitbucket.client_id"].value == CLIENT_ID
    form.submit("action", value="apply").follow()
    assert count(app, LoginSettings) == 1


def test_refused_credentials(app, editor, bitbucket):
    message, _ = verify(editor, client_secret="wrong-secret-value")
    assert message == "Bitbucket refused this key and secret."
    assert count(app, LoginSettings) == 0


def test_unreachable_bitbucket(app_settings, bitbucket):
    # A site with a 1 s deadline (the suite's sites have a generous 5 s): the test waits
    # the deadline out.
    with site_app({**app_settings, "cms_social_login.http_timeout": "1"}) as app:
        editor = make_browser(app)
        sign_in(editor)
        timeout = app.registry.social_login_settings.http_timeout
        bitbucket.fail("token", status=None, delay=timeout + 0.5)
        message, _ = verify(editor)
    assert message.startswith("Could not reach Bitbucket")


def test_an_address_the_sites_policy_refuses_is_named_as_such(app_settings, bitbucket):
    """The emulator is on 127.0.0.1; a site without allow_private_provider_urls refuses it.
    The editor reads that it is the site's own setting, not a network problem."""
    from cms_demo import main

    app = main({}, **{**app_settings, "cms_social_login.allow_private_provider_urls": "false"})
    try:
        editor = make_browser(app)
        sign_in(editor)
        message, _ = verify(editor)
        assert message == ("Could not check Bitbucket: the address is not allowed by this "
                           "site's settings. Nothing was stored.")
        assert bitbucket.requests_to("token") == []  # nothing left the site
        assert count(app, LoginSettings) == 0
    finally:
        get_social_login_engine(app.registry).dispose()


def test_the_stored_secret_is_used_when_the_field_is_left_empty(app, editor, bitbucket):
    submit_bitbucket(editor, "apply").follow()
    message, _ = verify(editor, client_secret="")
    assert message.startswith("These credentials work")


def test_missing_values(app, editor, bitbucket):
    page = submit_bitbucket(editor, "verify-bitbucket", client_id="", status=400)
    assert "Bitbucket Client ID is required" in page.html.find(
        id="bitbucket-client_id-error").get_text()
    assert not bitbucket.requests_to("token")


def test_verifying_is_audited(editor, bitbucket):
    verify(editor)
    rows = editor.get("/editor/system-pages/login/audit").html.select("tbody tr")
    assert "Credentials checked" in rows[0].get_text()
    assert "The provider accepted the credentials" in rows[0].get_text()


def test_unknown_provider_cannot_be_verified(editor):
    fields = settings_form(editor).submit_fields() + [("action", "verify-nosuch")]
    page = editor.post("/editor/system-pages/login/settings", fields, status=400)
    assert "There is no such provider." in page.text


# ---------------------------------------------------------------------- every tab


def verify_tab(editor, name, values, status=200):
    page = fill_tab(editor, name, values, f"verify-{name}", status=status)
    return page.html.find(id=f"{name}-verification").get_text(strip=True)


def test_openid_connect_reads_discovery_and_keys_then_asks_the_token_endpoint(
        app, editor, oidc_emulator):
    good = {"issuer": oidc_emulator.issuer, "client_id": KIT_CLIENT_ID,
            "client_secret": KIT_CLIENT_SECRET}
    assert verify_tab(editor, "oidc", good) == (
        "These credentials work: OpenID Connect accepted the Client ID and Client Secret.")
    assert oidc_emulator.requests_to("discovery") and oidc_emulator.requests_to("jwks")
    token_call = oidc_emulator.requests_to("token")[-1]
    assert token_call.form["grant_type"] == "authorization_code"
    assert verify_tab(editor, "oidc", {**good, "client_secret": "wrong-secret"}) == (
        "OpenID Connect refused this Client ID and Client Secret.")
    assert count(app, LoginSettings) == 0


def test_openid_connect_without_a_discovery_document(editor, oidc_emulator):
    values = {"issuer": oidc_emulator.base_url + "/no-such-realm",
              "client_id": KIT_CLIENT_ID, "client_secret": KIT_CLIENT_SECRET}
    assert verify_tab(editor, "oidc", values).startswith(
        "No usable OpenID Connect discovery document at")


def test_gitlab_asks_its_token_endpoint(editor, gitlab_emulator):
    good = {"base_url": gitlab_emulator.base_url, "client_id": KIT_CLIENT_ID,
            "client_secret": KIT_CLIENT_SECRET}
    assert verify_tab(editor, "gitlab", good).startswith("These credentials work: GitLab")
    assert verify_tab(editor, "gitlab", {**good, "client_secret": "wrong-secret"}) == (
        "GitLab refused this Client ID and Client Secret.")


def test_github_says_only_a_test_login_can_check(editor):
    page = settings_form(editor, "github").submit("action", value="tab-github")
    panel = page.html.find(id="panel-github")
    assert panel.find("button", string="Verify credentials") is None
    assert "GitHub cannot check these credentials without a user: use Test login." in \
        panel.get_text(" ", strip=True)
    assert panel.find("button", string="Test login") is not None
    fields = settings_form(editor).submit_fields() + [("action", "verify-github")]
    refused = editor.post("/editor/system-pages/login/settings", fields, status=400)
    # Refused for the ability it lacks (its empty tab would be a 400 of its own).
    assert "This provider cannot verify credentials." in refused.text


def test_the_ability_is_declared_on_the_provider_base(app):
    from cms_social_login.providers import Provider, Verification, get_provider_registry

    assert Provider.can_verify_credentials is False
    github = get_provider_registry(app.registry).get("github")
    assert type(github).verify_credentials is Provider.verify_credentials  # the default
    answer = github.verify_credentials({})
    assert isinstance(answer, Verification) and answer.ok is None


def test_a_plugin_check_that_answers_none_could_not_tell(caplog):
    # A 0.x habit: verify_credentials returning None. The editor reads "could not tell",
    # not an error page; the plugin's author reads the log.
    from cms_social_login.providers import Verification
    from cms_social_login.services.verify import verify_credentials

    answer = verify_credentials(answers_nothing(), {})
    assert isinstance(answer, Verification) and answer.ok is None
    assert answer.message.interpolate() == (
        "Nothing could not check the credentials. Use Test login instead.")
    assert "verify_credentials() returned NoneType, not a Verification" in caplog.text
