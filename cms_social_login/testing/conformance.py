"""The conformance suite: what every provider plugin must do on a real site.

Subclass :class:`ProviderConformance` in a test module (name the class ``Test...``), say
which provider, how to make its emulator, and how to add a user there::

    from cms_social_login.testing.conformance import ExpectedUser, ProviderConformance
    from acme_id_login.testing import AcmeIDEmulator

    class TestAcmeID(ProviderConformance):
        provider_name = "acme"

        def make_emulator(self):
            return AcmeIDEmulator()

        def add_user(self, emulator):
            user = emulator.add_user("Wile E. Coyote")
            return ExpectedUser(stable_id=user.id, display_name="Wile E. Coyote")

The site is the kit's (``social_login_app``, see :mod:`cms_social_login.testing.plugin`);
the emulator is served on 127.0.0.1 once per class with a client registered for the
site's callback URL, and the site's settings point the provider at it
(:meth:`ProviderConformance.provider_settings`). The checks:

- the tab renders from the provider's fields, each with its label, and shows the
  callback URL;
- a bad value or a missing required one shows its message by the field, keeps the other
  values and stores nothing;
- the authorize redirect carries the client id, a fresh state, the callback URL, and the
  PKCE S256 challenge and the nonce when the provider declares them;
- the happy path signs a new user in, linked to the provider's stable user id;
- denied consent, a wrong client secret, a bad code, a 5xx and a timeout each end on the
  login page with a message, and nobody is signed in;
- the client secret never appears in a page;
- a Test login, from the tab (typed values) and from the preview (the stored draft),
  makes the real round trip and shows the profile, while nothing is published, no
  account is created or linked and the editor stays signed in;
- the provider meets provider API 1.0: what it declares it can do (verify credentials,
  client credentials, refresh, a membership rule, logout) it implements, and what it
  implements it declares; a credentials check does not refuse the registered client nor
  accept a wrong secret; a membership rule reads one of its fields and is off for the
  working tab;
- the fields where the editor types a server address (:attr:`ProviderConformance.url_fields`)
  refuse loopback and private addresses, in words, when the operator's policy does
  (``cms_social_login.allow_private_provider_urls`` off).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import pytest

from ..i18n import english
from ..providers.base import FieldError, Provider, Verification
from ..providers.compat import api_problems
from .oauth2_emulator import OAuth2Emulator
from .plugin import on_sys_path, site_session_factory
from .steps import (
    callback_path,
    callback_url,
    error_message,
    fill_tab,
    login_buttons,
    query_of,
    settings_form,
    start_login,
)

__all__ = ["ExpectedUser", "ProviderConformance"]


@dataclass(frozen=True)
class ExpectedUser:
    """A user added at the emulator, as the site should see it after login."""

    stable_id: str
    display_name: str


def _count(app: Any, model: Any) -> int:
    from sqlalchemy import func, select

    with site_session_factory(app)() as db:
        return int(db.scalar(select(func.count()).select_from(model)))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class ProviderConformance:
    """Base class of a provider's conformance tests (subclass it as ``Test...``)."""

    #: The provider's name on the site (its entry point's name).
    provider_name: ClassVar[str] = ""
    #: The client registered at the emulator and typed into the tab.
    client_id: ClassVar[str] = "conformance-client-0001"
    client_secret: ClassVar[str] = "conformance-Secret-8pL2vR7xT4"
    #: Field -> a value the tab must refuse (with a message by that field).
    invalid_values: ClassVar[Mapping[str, str]] = {"client_id": "not a valid client id"}
    #: Emulator endpoint names where failures are injected.
    token_endpoint: ClassVar[str] = "token"
    profile_endpoint: ClassVar[str | None] = "user"
    #: Fields where the editor types a server's address (an issuer, a self-hosted URL).
    url_fields: ClassVar[tuple[str, ...]] = ()
    #: Failure check -> words the visitor's message must hold (any one of them): a login
    #: that fails for another reason than the check's own fails the check. The defaults
    #: are the messages of :class:`~cms_social_login.providers.base.OAuth2Provider`; a
    #: provider with its own wording overrides them.
    failure_words: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "denied_consent": ("was cancelled",),
        "invalid_client": ("not set up correctly",),
        "invalid_code": ("was not accepted",),
        "server_error": ("could not complete the login", "could not send your profile"),
        "timeout": ("could not reach", "slow to answer"),
    }

    # ------------------------------------------------------------------ author's hooks

    def make_emulator(self) -> OAuth2Emulator:
        """A new, unstarted emulator of the provider."""
        raise NotImplementedError

    def add_user(self, emulator: Any) -> ExpectedUser:
        """Add a user at ``emulator`` (it becomes the one logged in there)."""
        raise NotImplementedError

    def provider_settings(self, emulator: Any) -> dict[str, str]:
        """Site settings pointing the provider at ``emulator``: by default its
        ``authorize_url``, ``token_url`` and ``api_url`` attributes, where it has them."""
        settings = {}
        for key in ("authorize_url", "token_url", "api_url"):
            value = getattr(emulator, key, None)
            if isinstance(value, str):
                settings[f"cms_social_login.{self.provider_name}.{key}"] = value
        return settings

    def tab_values(self, emulator: Any) -> dict[str, str]:
        """The values of a working tab (by default the client id and secret)."""
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def register_client(self, emulator: Any) -> None:
        """Register the site's client at ``emulator``."""
        emulator.add_client(self.client_id, self.client_secret,
                            callback_url=callback_url(self.provider_name))

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_server(cls, social_login_extra_sys_path: Any) -> Iterator[Any]:
        """The provider's emulator, served for the class (made by an instance of the class:
        pytest gives every test its own)."""
        suite = cls()
        with on_sys_path(social_login_extra_sys_path):
            emulator = suite.make_emulator()
        emulator.start()
        try:
            suite.register_client(emulator)
            yield emulator
        finally:
            emulator.stop()

    @pytest.fixture
    def conformance_emulator(self, conformance_server: Any) -> Iterator[Any]:
        """The emulator, reset for the test."""
        conformance_server.reset()
        yield conformance_server
        conformance_server.reset()

    @pytest.fixture
    def social_login_settings(self, social_login_settings: dict[str, str],
                              conformance_server: Any) -> dict[str, str]:
        """The kit's settings plus :meth:`provider_settings`."""
        return {**social_login_settings, **self.provider_settings(conformance_server)}

    @pytest.fixture
    def conformance_user(self, conformance_emulator: Any) -> ExpectedUser:
        """A user logged in at the emulator."""
        return self.add_user(conformance_emulator)

    @pytest.fixture
    def conformance_provider(self, social_login_app: Any) -> Provider:
        """The provider instance of the site."""
        from ..providers.registry import get_provider_registry

        provider = get_provider_registry(social_login_app.registry).get(self.provider_name)
        assert provider is not None, f"{self.provider_name!r} is not a provider of the site"
        return provider

    @pytest.fixture
    def conformance_published(self, social_login_editor: Any, conformance_emulator: Any
                              ) -> Any:
        """The editor has saved (published) a working tab."""
        fill_tab(social_login_editor, self.provider_name,
                 self.tab_values(conformance_emulator), "save").follow()
        return social_login_editor

    # ------------------------------------------------------------------ helpers

    def publish(self, editor: Any, emulator: Any, **changes: str) -> None:
        """Save the tab with :meth:`tab_values` changed by ``changes``."""
        fill_tab(editor, self.provider_name, {**self.tab_values(emulator), **changes},
                 "save").follow()

    def assert_failed_login(self, app: Any, browser: Any, page: Any,
                            check: str | None = None) -> str:
        """``page`` (the callback's answer) leads to a clean login page with a message, and
        nobody got signed in; with ``check``, the message is that check's own
        (:attr:`failure_words`)."""
        from ..models import LinkedIdentity

        assert page.status_int == 303, page.status
        assert urlsplit(page.location).path == "/login" and not urlsplit(page.location).query
        page = page.follow()
        message = error_message(page)
        assert message, "the login page shows no message"
        assert "Traceback" not in page.text
        assert page.html.select_one("#login-heading") is not None, "not the login page"
        assert _count(app, LinkedIdentity) == 0
        assert "Signed in as" not in browser.get("/").text
        if check is not None:
            words = self.failure_words[check]
            assert any(word in message for word in words), (
                f"the login failed, but not for the reason this check causes ({check}: a "
                f"message with one of {words!r}); the visitor read: {message!r}")
        return message

    # ------------------------------------------------------------------ the checks

    def test_tab_renders_from_its_fields(self, social_login_editor: Any,
                                         conformance_provider: Provider) -> None:
        name = self.provider_name
        page = social_login_editor.get(f"/editor/system-pages/login/settings?tab={name}")
        tab = page.html.find(attrs={"role": "tab", "data-tab": name}) \
            or page.html.find(id=f"tab-{name}")
        assert tab is not None
        title = tab.select_one(".tab-title") or tab  # the status words follow the title
        assert title.get_text(strip=True) == conformance_provider.title
        assert conformance_provider.fields, "the provider declares no field"
        # This tab's panel only: another provider's tab may have a field with this label.
        panel = page.html.find(id=tab.get("aria-controls") or f"panel-{name}") or page.html
        for field in conformance_provider.fields:
            labels = [label for label in panel.find_all("label")
                      if label.get_text(" ", strip=True).startswith(field.label)]
            assert labels, f"no label {field.label!r} in the {name} tab"
            control = panel.find(id=labels[0].get("for"))
            assert control is not None, f"label {field.label!r} points to nothing"
            assert control.get("name") == f"{name}.{field.name}", (
                f"label {field.label!r} is for {control.get('name')!r}")
            if field.secret:
                assert control.get("type") == "password" and not control.get("value")
        assert callback_url(name) in page.text

    def _expected_error(self, provider: Provider, field_name: str, bad: str,
                        values: Mapping[str, str]) -> str:
        try:
            cleaned = provider.field(field_name).clean(bad)
        except FieldError as exc:
            return str(exc)
        message = provider.validate({**values, field_name: cleaned}).get(field_name)
        assert message, f"{field_name}={bad!r} is accepted: fix invalid_values"
        return english(message)

    def test_validation_errors_show_by_the_field(self, social_login_app: Any,
                                                 social_login_editor: Any,
                                                 conformance_emulator: Any,
                                                 conformance_provider: Provider) -> None:
        from ..models import LoginSettings

        name = self.provider_name
        good = self.tab_values(conformance_emulator)
        for field_name, bad in self.invalid_values.items():
            expected = self._expected_error(conformance_provider, field_name, bad,
                                            {k: v for k, v in good.items()})
            page = fill_tab(social_login_editor, name, {**good, field_name: bad}, "ok",
                            status=400)
            self._assert_field_error(page, name, field_name, expected)
            form = page.forms["login-settings-form"]
            for other, value in good.items():
                if other != field_name and not conformance_provider.field(other).secret:
                    assert form[f"{name}.{other}"].value == value, f"{other} was not kept"
        # A tab filled but for one required field says which one is missing.
        for field in (f for f in conformance_provider.fields if f.required):
            page = fill_tab(social_login_editor, name, {**good, field.name: ""}, "apply",
                            status=400)
            self._assert_field_error(page, name, field.name, None)
        assert _count(social_login_app, LoginSettings) == 0

    @staticmethod
    def _assert_field_error(page: Any, provider_name: str, field_name: str,
                            expected: str | None) -> None:
        control = page.html.find(attrs={"name": f"{provider_name}.{field_name}"})
        assert control is not None
        assert control.get("aria-invalid") == "true", f"{field_name} is not marked invalid"
        described = [page.html.find(id=i) for i in (control.get("aria-describedby") or
                                                    "").split()]
        texts = [d.get_text(" ", strip=True) for d in described
                 if d is not None and "error" in " ".join(d.get("class") or ())]
        assert texts, f"no error message by {field_name}"
        if expected is not None:
            assert expected in texts, f"{texts} lacks {expected!r}"

    def test_authorize_redirect(self, conformance_published: Any, social_login_visitor: Any,
                                conformance_emulator: Any, conformance_user: ExpectedUser,
                                conformance_provider: Provider) -> None:
        name = self.provider_name
        assert login_buttons(social_login_visitor.get("/login"), name)
        first = start_login(social_login_visitor, name)
        second = start_login(social_login_visitor, name)
        assert urlsplit(first)[:2] == urlsplit(conformance_emulator.base_url)[:2], first
        params, again = query_of(first), query_of(second)
        assert params["client_id"] == self.client_id
        assert params["response_type"] == "code"
        assert len(params.get("state", "")) >= 16 and params["state"] != again["state"]
        if "redirect_uri" in params:
            assert params["redirect_uri"] == callback_url(name)
        if conformance_provider.uses_pkce:
            assert params.get("code_challenge_method") == "S256"
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", params.get("code_challenge", ""))
            assert params["code_challenge"] != again["code_challenge"]
        else:
            assert "code_challenge" not in params
        if conformance_provider.uses_nonce:
            assert len(params.get("nonce", "")) >= 16 and params["nonce"] != again["nonce"]

    def test_happy_path_signs_a_new_user_in(self, social_login_app: Any,
                                            conformance_published: Any,
                                            social_login_visitor: Any,
                                            conformance_emulator: Any,
                                            conformance_user: ExpectedUser,
                                            conformance_provider: Provider) -> None:
        from sqlalchemy import select

        from ..models import LinkedIdentity

        visitor = social_login_visitor
        authorize = start_login(visitor, self.provider_name, came_from="/")
        back = visitor.get(callback_path(conformance_emulator.approve(authorize)))
        assert back.status_int in (302, 303), error_message(back) or back.status
        home = back.follow()
        assert "Signed in as" in home.text, (
            f"the login ended on {back.location} without signing in, saying "
            f"{error_message(home)!r}; the cause is logged by cms_social_login.services.sso "
            f"(pytest: 'Captured log')")
        assert conformance_user.display_name in home.text, (
            f"signed in, but not as {conformance_user.display_name!r}: is it the profile's "
            f"displayName?")
        with site_session_factory(social_login_app)() as db:
            identity = db.scalar(select(LinkedIdentity))
            assert identity.provider == self.provider_name
            assert identity.provider_user_id == conformance_user.stable_id, (
                f"linked to user id {identity.provider_user_id!r}, not "
                f"{conformance_user.stable_id!r}: accounts[0]['userid'] must be the "
                f"provider's stable id, as a string")
        if conformance_provider.uses_pkce:
            token_call = conformance_emulator.requests_to(self.token_endpoint)[-1]
            verifier = token_call.form.get("code_verifier", "")
            assert _s256(verifier) == query_of(authorize)["code_challenge"]

    def test_denied_consent(self, social_login_app: Any, conformance_published: Any,
                            social_login_visitor: Any, conformance_emulator: Any,
                            conformance_user: ExpectedUser) -> None:
        location = conformance_emulator.deny(start_login(social_login_visitor,
                                                         self.provider_name))
        page = social_login_visitor.get(callback_path(location))
        self.assert_failed_login(social_login_app, social_login_visitor, page,
                                 "denied_consent")

    def test_invalid_client(self, social_login_app: Any, social_login_editor: Any,
                            social_login_visitor: Any, conformance_emulator: Any,
                            conformance_user: ExpectedUser) -> None:
        self.publish(social_login_editor, conformance_emulator,
                     client_secret="wrong-" + self.client_secret)
        location = conformance_emulator.approve(start_login(social_login_visitor,
                                                            self.provider_name))
        page = social_login_visitor.get(callback_path(location))
        self.assert_failed_login(social_login_app, social_login_visitor, page,
                                 "invalid_client")

    def test_invalid_code(self, social_login_app: Any, conformance_published: Any,
                          social_login_visitor: Any, conformance_emulator: Any,
                          conformance_user: ExpectedUser) -> None:
        location = conformance_emulator.approve(start_login(social_login_visitor,
                                                            self.provider_name))
        params = query_of(location)
        assert "code" in params, location
        params["code"] = "not-" + params["code"]
        page = social_login_visitor.get(
            f"/login/{self.provider_name}/callback?{urlencode(params)}")
        self.assert_failed_login(social_login_app, social_login_visitor, page,
                                 "invalid_code")

    @pytest.mark.parametrize("where", ["token", "profile"])
    def test_server_error(self, where: str, social_login_app: Any, conformance_published: Any,
                          social_login_visitor: Any, conformance_emulator: Any,
                          conformance_user: ExpectedUser) -> None:
        endpoint = self.token_endpoint if where == "token" else self.profile_endpoint
        if endpoint is None:
            pytest.skip("the provider declares no profile endpoint")
        location = conformance_emulator.approve(start_login(social_login_visitor,
                                                            self.provider_name))
        conformance_emulator.fail(endpoint, 503 if where == "profile" else 500)
        page = social_login_visitor.get(callback_path(location))
        self.assert_failed_login(social_login_app, social_login_visitor, page,
                                 "server_error")

    def test_timeout(self, social_login_app: Any, conformance_published: Any,
                     social_login_visitor: Any, conformance_emulator: Any,
                     conformance_user: ExpectedUser) -> None:
        timeout = social_login_app.registry.social_login_settings.http_timeout
        location = conformance_emulator.approve(start_login(social_login_visitor,
                                                            self.provider_name))
        conformance_emulator.fail(self.token_endpoint, status=None, delay=timeout + 0.5)
        page = social_login_visitor.get(callback_path(location))
        self.assert_failed_login(social_login_app, social_login_visitor, page,
                                 "timeout")

    def test_secret_never_appears_in_a_page(self, social_login_app: Any,
                                            social_login_editor: Any,
                                            social_login_visitor: Any,
                                            conformance_emulator: Any,
                                            conformance_user: ExpectedUser) -> None:
        from ..models import LoginSettings

        secret = self.client_secret
        name = self.provider_name
        checked = fill_tab(social_login_editor, name, self.tab_values(conformance_emulator),
                           "ok")
        pages = [checked]
        applied = checked.forms["login-settings-form"].submit("action", value="apply")
        pages += [applied, applied.follow()]
        saved = settings_form(social_login_editor, name).submit("action", value="save")
        pages += [saved, saved.follow(),
                  social_login_editor.get("/editor/system-pages/login/preview"),
                  social_login_editor.get("/editor/system-pages/login"),
                  social_login_visitor.get("/login")]
        location = conformance_emulator.deny(start_login(social_login_visitor, name))
        pages.append(social_login_visitor.get(callback_path(location)))
        for page in pages:
            assert secret not in page.text, f"the secret is in {page.request.url}"
            assert secret not in str(page.headers)
        with site_session_factory(social_login_app)() as db:
            for record in db.query(LoginSettings):
                assert secret not in str(record.document)

    # ------------------------------------------------------------------ Test login

    def assert_test_login_left_no_trace(self, app: Any, editor: Any,
                                        documents_before: dict[str, Any]) -> None:
        """No account, no link, settings as they were, the editor still signed in, and
        the audit log has the ``test-login`` record."""
        from sqlalchemy import select

        from ..models import AuditEvent, LinkedIdentity, LoginSettings

        assert _count(app, LinkedIdentity) == 0
        try:
            from cms_demo.models import User
        except ImportError:  # pragma: no cover - a site without the demo host
            pass
        else:
            assert _count(app, User) == 1, "an account was created"
        with app.registry["cms_social_login.dbsession_factory"]() as db:
            documents = {r.stage: (r.version, r.document) for r in db.query(LoginSettings)}
            actions = list(db.scalars(select(AuditEvent.action).where(
                AuditEvent.provider == self.provider_name)))
        assert documents == documents_before, "the draft or the published settings changed"
        assert "test-login" in actions
        assert "success" not in actions, "a sign-in was recorded"
        assert "Demo Editor" in editor.get("/editor").text, "the editor was signed out"

    @staticmethod
    def _documents(app: Any) -> dict[str, Any]:
        from ..models import LoginSettings

        with app.registry["cms_social_login.dbsession_factory"]() as db:
            return {r.stage: (r.version, r.document) for r in db.query(LoginSettings)}

    @staticmethod
    def _result(page: Any) -> dict[str, str]:
        return {key: page.html.select_one(f'[data-testid="test-{key}"]').get_text(
            " ", strip=True) for key in ("outcome", "name", "id")}

    def test_test_login_from_the_tab(self, social_login_app: Any, social_login_editor: Any,
                                     conformance_emulator: Any,
                                     conformance_user: ExpectedUser) -> None:
        editor = social_login_editor
        form = settings_form(editor, self.provider_name)
        for key, value in self.tab_values(conformance_emulator).items():
            form[f"{self.provider_name}.{key}"] = value
        before = self._documents(social_login_app)
        started = form.submit("action", value=f"test-{self.provider_name}")
        assert started.status_int == 302, error_message(started) or started.status
        back = editor.get(callback_path(conformance_emulator.approve(started.location)))
        assert back.status_int == 303 and urlsplit(back.location).path == \
            "/editor/system-pages/login/test-login", back.status
        result = self._result(back.follow())
        assert result["outcome"].startswith("The test login with")
        assert result["name"] == conformance_user.display_name
        assert result["id"] == conformance_user.stable_id
        self.assert_test_login_left_no_trace(social_login_app, editor, before)

    def test_test_login_from_the_preview(self, social_login_app: Any,
                                         social_login_editor: Any, social_login_visitor: Any,
                                         conformance_emulator: Any,
                                         conformance_user: ExpectedUser) -> None:
        editor = social_login_editor
        fill_tab(editor, self.provider_name, self.tab_values(conformance_emulator),
                 "apply").follow()
        preview = editor.get("/editor/system-pages/login/preview")
        form = next(f for f in preview.forms.values()
                    if f.action.endswith(f"/test-login/{self.provider_name}"))
        before = self._documents(social_login_app)
        started = form.submit()
        assert started.status_int == 302, started.status
        back = editor.get(callback_path(conformance_emulator.approve(started.location)))
        result = self._result(back.follow())
        assert result["id"] == conformance_user.stable_id
        self.assert_test_login_left_no_trace(social_login_app, editor, before)
        assert not login_buttons(social_login_visitor.get("/login"), self.provider_name)

    def test_declared_abilities_match_the_methods(self, conformance_emulator: Any,
                                                  conformance_provider: Provider) -> None:
        assert api_problems(type(conformance_provider)) == []
        rule = conformance_provider.membership_rule
        values = self.tab_values(conformance_emulator)
        assert conformance_provider.access_rule(values) is None, "a rule without allowed names"
        if conformance_provider.can_verify_credentials:
            # The registered pair is not refused; a wrong secret is not accepted.
            right = conformance_provider.verify_credentials(values)
            assert isinstance(right, Verification), (
                f"verify_credentials() returned {right!r}; return "
                f"cms_social_login.providers.Verification(ok, message)")
            assert right.ok is not False, f"the registered client was refused: {right}"
            wrong = {**values, "client_secret": "wrong-" + self.client_secret}
            refused = conformance_provider.verify_credentials(wrong)
            assert refused.ok is not True, f"a wrong client secret was accepted: {refused}"
        if rule is not None:
            field = conformance_provider.field(rule.field)  # KeyError: no such field
            assert not field.required and not field.secret
            assert rule.parse(" b, a  b ") == ("b", "a")
            assert conformance_provider.access_rule({**values, rule.field: "a"})

    def test_url_fields_follow_the_address_policy(self, conformance_provider: Provider
                                                  ) -> None:
        from ..settings import SocialLoginSettings

        if not self.url_fields:
            pytest.skip("the provider has no field for a server address")
        strict = type(conformance_provider)(SocialLoginSettings.from_settings({
            "cms_social_login.secret_key": "conformance-" + "k" * 40,
            "cms_social_login.allow_private_provider_urls": "false"}),
            name=self.provider_name)
        for name in self.url_fields:
            for address in ("https://127.0.0.1:8443", "https://10.0.0.7",
                            "https://[fd00::5]", "https://localhost"):
                errors = strict.validate({name: address})
                assert name in errors, f"{name} accepted {address}"
                assert "The address is not allowed" in english(errors[name])
            assert name not in strict.validate({name: "https://sso.example.com"})
