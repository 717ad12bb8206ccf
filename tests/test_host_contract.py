"""What the add-on promises a host: it claims none of the host's names, its database is the
host's session when the host says so and its own engine otherwise (always in the request's
transaction), the end of a login is velruse's contexts with views the host may replace, and
a clash of configuration names the host's file and line."""

from __future__ import annotations

import inspect

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError
from pyramid.interfaces import ILocaleNegotiator
from pyramid.scripting import prepare
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as inspect_schema
from velruse import AuthenticationComplete

from cms_demo.models import demo_engine
from cms_demo.users import DemoUserAdapter
from cms_social_login.events import SocialLoginSucceeded
from cms_social_login.interfaces import IUserAdapter
from cms_social_login.migrations import upgrade
from cms_social_login.models import UsedLoginState, get_social_login_engine
from cms_social_login.models.records import utcnow
from cms_social_login.providers.bitbucket import BitbucketProvider
from cms_social_login.testing.steps import make_browser, sign_in

from .helpers import (
    SECRET_KEY,
    NobodyEdits,
    callback_path,
    demo_host,
    start_login,
    submit_bitbucket,
)


def test_the_host_may_replace_the_success_view(app_settings, bitbucket, bitbucket_user):
    """velruse's contract: the host registers its own view for AuthenticationComplete."""
    succeeded = []

    def welcome(context, request):
        request.response.text = (f"Welcome, {context.profile['displayName']} "
                                 f"({'new' if context.created else 'back'}, "
                                 f"via {context.provider_name})")
        return request.response

    with demo_host(app_settings) as config:
        config.add_view(welcome, context=AuthenticationComplete)
        config.add_subscriber(succeeded.append, SocialLoginSucceeded)
    app = config.make_wsgi_app()
    try:
        editor, visitor = make_browser(app), make_browser(app)
        sign_in(editor)
        submit_bitbucket(editor, "save").follow()
        page = visitor.get(callback_path(bitbucket.approve(start_login(visitor))))
        assert page.text == "Welcome, Ada Lovelace (new, via bitbucket)"
        assert "Signed in as" in visitor.get("/").text  # the add-on signed the visitor in
        assert len(succeeded) == 1  # and the event stays
    finally:
        demo_engine(config.registry).dispose()


def test_the_default_failure_view_goes_to_a_clean_login_page(editor, visitor, bitbucket,
                                                        bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    back = visitor.get(callback_path(bitbucket.deny(start_login(visitor))), status=303)
    assert back.location == "http://localhost/login"  # no code or state in the address bar
    assert "login was cancelled" in back.follow().text


def test_the_host_may_replace_the_forbidden_view_of_an_editor_page(app_settings):
    def members_only(request):
        request.response.status_int = 403
        request.response.text = "Ask the webmaster for editor rights."
        return request.response

    with demo_host(app_settings) as config:
        config.add_forbidden_view(members_only, route_name="cms_social_login.editor_home")
    app = config.make_wsgi_app()
    try:
        visitor = make_browser(app)
        assert visitor.get("/editor", status=403).text == "Ask the webmaster for editor rights."
        # The add-on's other pages keep its redirect to the login page.
        assert "/login?came_from=" in visitor.get("/editor/system-pages", status=303).location
    finally:
        demo_engine(config.registry).dispose()


def test_the_host_may_name_its_session_in_a_setting(app_settings):
    """``cms_social_login.dbsession = request.dbsession``: no code, one database."""
    settings = {**app_settings, "cms_social_login.dbsession": "request.dbsession"}
    with Configurator(settings=settings) as config:
        config.include("cms_demo.models")
        config.include("cms_social_login")
        config.set_security_policy(NobodyEdits())
    app = config.make_wsgi_app()
    try:
        with prepare(registry=app.registry) as env:
            request = env["request"]
            assert request.social_login_dbsession is request.dbsession
    finally:
        demo_engine(app.registry).dispose()


def test_the_add_on_engine_is_the_one_its_session_factory_or_its_session_runs_on(
        app_settings):
    """get_social_login_engine: the engine of the session factory the host gave; without
    one, the bind of a request's session, and without a request a clear LookupError."""
    with demo_host(app_settings) as config:
        pass
    app = config.make_wsgi_app()
    try:
        with prepare(registry=app.registry) as env:
            request = env["request"]
            engine = get_social_login_engine(app.registry, request)
            assert engine is request.dbsession.get_bind() is demo_engine(app.registry)
        with pytest.raises(LookupError, match="without one"):
            get_social_login_engine(app.registry)
        app.registry["cms_social_login.dbsession_factory"] = app.registry["dbsession_factory"]
        assert get_social_login_engine(app.registry) is demo_engine(app.registry)
    finally:
        demo_engine(app.registry).dispose()


def test_the_host_may_set_its_parts_inside_its_own_include(app_settings):
    """Like the starter's models include: no conflict with the add-on's defaults."""

    def host_models(config):
        config.include("cms_demo.models")
        config.set_social_login_dbsession("request.dbsession")
        config.set_social_login_user_adapter("cms_demo.users.DemoUserAdapter")

    with Configurator(settings=dict(app_settings)) as config:
        config.include("cms_social_login")
        config.include(host_models)
        config.set_security_policy(NobodyEdits())
    app = config.make_wsgi_app()
    try:
        with prepare(registry=app.registry) as env:
            assert env["request"].social_login_dbsession is env["request"].dbsession
        assert isinstance(app.registry.getUtility(IUserAdapter), DemoUserAdapter)
    finally:
        demo_engine(app.registry).dispose()


@pytest.fixture
def own_engine_app(tmp_path, monkeypatch):
    """A host that says nothing about its session: the add-on runs its own engine on its
    own setting (here from the environment) while the host's sqlalchemy.url stays put."""
    addon_db = tmp_path / "addon.sqlite"
    monkeypatch.setenv("CMS_SOCIAL_LOGIN_SQLALCHEMY_URL", f"sqlite:///{addon_db}")
    settings = {"sqlalchemy.url": f"sqlite:///{tmp_path}/host.sqlite",
                "cms_social_login.secret_key": SECRET_KEY}
    with Configurator(settings=settings) as config:
        config.include("cms_social_login")
        config.set_security_policy(NobodyEdits())
    app = config.make_wsgi_app()
    upgrade(get_social_login_engine(app.registry))
    yield app, settings, addon_db
    get_social_login_engine(app.registry).dispose()


def test_the_add_ons_own_engine_leaves_the_hosts_settings_alone(own_engine_app, tmp_path):
    app, settings, addon_db = own_engine_app
    assert app.registry.settings["sqlalchemy.url"] == f"sqlite:///{tmp_path}/host.sqlite"
    assert settings["sqlalchemy.url"] == f"sqlite:///{tmp_path}/host.sqlite"
    assert "social_login_settings" in inspect_schema(create_engine(
        f"sqlite:///{addon_db}")).get_table_names()
    assert not (tmp_path / "host.sqlite").exists()


def test_the_add_ons_own_sqlite_engine_enforces_foreign_keys(own_engine_app):
    app, _settings, _db = own_engine_app
    engine = get_social_login_engine(app.registry)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_the_add_ons_own_session_follows_the_request_transaction(own_engine_app):
    app, _settings, _db = own_engine_app

    def add_state(request, state_hash):
        request.tm.begin()
        request.social_login_dbsession.add(UsedLoginState(state_hash=state_hash,
                                                          used_at=utcnow()))

    with prepare(registry=app.registry) as env:
        add_state(env["request"], "a" * 64)
        env["request"].tm.abort()
    with prepare(registry=app.registry) as env:
        add_state(env["request"], "c" * 64)
        env["request"].tm.commit()
    with app.registry["cms_social_login.dbsession_factory"]() as db:
        assert [s.state_hash[0] for s in db.query(UsedLoginState)] == ["c"]


def test_the_add_on_sets_no_locale_negotiator(app):
    assert app.registry.queryUtility(ILocaleNegotiator) is None


def test_a_chosen_language_is_kept_across_the_add_ons_form_posts(visitor):
    form = visitor.get("/login?_LOCALE_=de").forms[0]
    form["login"], form["password"] = "editor", "wrong"
    page = form.submit(status=400)  # no _LOCALE_ in the form's action, no Accept-Language
    assert "Benutzername oder Passwort ist falsch." in page.text
    assert page.html.find("html")["lang"] == "de"


def test_a_conflict_names_the_hosts_file_and_line(app_settings):
    def one(config):
        config.add_social_login_provider(BitbucketProvider, name="acme")

    def two(config):
        config.add_social_login_provider(BitbucketProvider, name="acme")

    config = Configurator(settings=dict(app_settings))
    config.include("cms_social_login")
    config.include("cms_demo.security")
    config.include(one)
    config.include(two)
    with pytest.raises(ConfigurationConflictError) as raised:
        config.commit()
    message = str(raised.value)
    for function in (one, two):
        line = inspect.getsourcelines(function)[1] + 1
        assert f"Line {line} of file {__file__}" in message, message
    assert "of file None" not in message


def test_the_add_on_silences_only_pyramids_own_pkg_resources_warning():
    """Importing the add-on must not hide the host's own deprecation warnings."""
    import subprocess
    import sys

    script = (
        "import warnings, cms_social_login\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.warn_explicit('pkg_resources is deprecated as an API', UserWarning,\n"
        "                           'host.py', 1, module='host_app.assets')\n"
        "print(len(seen))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "1"
