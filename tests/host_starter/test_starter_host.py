"""The add-on in a host shaped like the official ``pyramid-cookiecutter-starter`` (jinja2 +
sqlalchemy): ``project/`` is that host with only our README's lines added.

The story runs on it (the editor's Save, a visitor's first and second login against the
Bitbucket emulator); the host's own tests (including one on the add-on's test kit, pointed
at the host's app by one fixture override) still pass; its ``request.dbsession`` stays its
own; both Alembic histories live in one database and the host's ``alembic check`` is clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import transaction
from pyramid.paster import get_appsettings
from pyramid.scripting import prepare
from sqlalchemy import func, select

from cms_social_login.models import LinkedIdentity
from cms_social_login.testing.plugin import on_sys_path
from cms_social_login.testing.steps import make_browser, sign_in

from ..helpers import bitbucket_buttons, callback_path, start_login, submit_bitbucket

PROJECT = Path(__file__).parent / "project"


def run(project: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m <command>`` in the host's folder, as its developer would."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop("CMS_SOCIAL_LOGIN_SQLALCHEMY_URL", None)
    result = subprocess.run([sys.executable, "-m", *command], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the host project (its SQLite database lives in it)."""
    copy = tmp_path / "myproject"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite"))
    return copy


@pytest.fixture
def migrated(project) -> Path:
    """Both histories applied to the host's database: the host's, then the add-on's."""
    run(project, "alembic", "-c", "testing.ini", "upgrade", "head")
    run(project, "cms_social_login.migrations.cli", "testing.ini", "upgrade")
    return project


@pytest.fixture
def host_app(migrated, bitbucket_server):
    """The host's WSGI app from its testing.ini, Bitbucket pointed at the emulator, and
    an editor account in the host's own User table."""
    # The host's package stays importable while its app runs (templates load lazily).
    with on_sys_path([migrated]):
        from myproject import main, models

        settings = dict(get_appsettings(str(migrated / "testing.ini")))
        settings.update({f"cms_social_login.bitbucket.{key}": getattr(bitbucket_server, key)
                         for key in ("authorize_url", "token_url", "api_url")})
        # What cms-social-login-emulator prints besides the URLs: the emulator is on loopback.
        settings["cms_social_login.allow_private_provider_urls"] = "true"
        app = main({}, **settings)
        factory = app.registry["dbsession_factory"]
        with transaction.manager:
            editor = models.User(name="editor", is_editor=True)
            editor.set_password("editor")
            models.get_tm_session(factory, transaction.manager).add(editor)
        yield app, models
        factory.kw["bind"].dispose()


def test_the_whole_story_runs_on_the_starter(host_app, bitbucket, bitbucket_user):
    app, models = host_app
    editor, visitor = make_browser(app), make_browser(app)
    # A signed-out editor is sent to the login page and back.
    bounced = editor.get("/editor/system-pages/login/settings", status=303)
    assert bounced.location.endswith(
        "/login?came_from=%2Feditor%2Fsystem-pages%2Flogin%2Fsettings")
    sign_in(editor)
    submit_bitbucket(editor, "save").follow()
    assert bitbucket_buttons(visitor.get("/login"))

    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor, came_from="/"))))
    assert back.status_int == 303 and back.location == "http://localhost/"
    assert "Welcome to" in back.follow().text
    again = make_browser(app)
    again.get(callback_path(bitbucket.approve(start_login(again)))).follow()

    with app.registry["dbsession_factory"]() as db:  # the host's own database
        ada = db.scalar(select(models.User).where(models.User.name == "ada"))
        assert ada is not None and ada.email == "ada@example.org"
        assert db.scalar(select(func.count()).select_from(models.User)) == 2
        identity = db.scalar(select(LinkedIdentity))
        assert identity.userid == str(ada.id)
    # Signed in: a non-editor gets the add-on's 403 page, not a redirect.
    assert "may open this page" in visitor.get("/editor", status=403).text
    # Their connected accounts: Bitbucket, the only way in (no password, nothing suggested).
    connections = visitor.get("/account/connections")
    assert connections.html.select_one(".disconnect-reason").get_text(strip=True) == \
        "It is your only way to sign in."


def test_the_host_keeps_its_own_request_dbsession(host_app):
    app, models = host_app
    with prepare(registry=app.registry) as env:
        request = env["request"]
        assert request.social_login_dbsession is request.dbsession
        assert request.dbsession.get_bind() is app.registry["dbsession_factory"].kw["bind"]
    # Registered once, by the host's own models/__init__.py.
    made_by = [item["introspectable"].action_info.file
               for item in app.registry.introspector.get_category("request extensions")
               if item["introspectable"].discriminator == "dbsession"]
    assert len(made_by) == 1 and made_by[0].endswith(os.path.join("myproject", "models",
                                                                  "__init__.py"))


def test_host_pages_keep_the_hosts_language(host_app):
    app, _models = host_app
    german = make_browser(app)
    german.extra_environ["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9"
    assert '<html lang="en">' in german.get("/").text
    login = german.get("/login")
    assert '<html lang="de">' in login.text and "Anmelden" in login.text


def test_the_hosts_own_tests_pass(project):
    """The host's suite: its home page and 404, and a login through the add-on's test kit
    pointed at the host's app by one fixture override (``social_login_app``)."""
    result = run(project, "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")
    assert "3 passed" in result.stdout, result.stdout[-2000:]


def test_the_hosts_alembic_check_is_clean_with_both_histories(migrated):
    check = run(migrated, "alembic", "-c", "testing.ini", "check")
    assert "No new upgrade operations detected." in check.stdout + check.stderr
    # Lock files are not left next to the host's database.
    assert not list(migrated.glob("*lock*"))


def test_without_the_helper_the_hosts_alembic_would_drop_our_tables(migrated):
    env_py = migrated / "myproject" / "alembic" / "env.py"
    text = env_py.read_text()
    assert "include_name=host_include_name," in text
    env_py.write_text(text.replace("include_name=host_include_name,", ""))
    check = run(migrated, "alembic", "-c", "testing.ini", "check", check=False)
    output = check.stdout + check.stderr
    assert check.returncode != 0
    assert "remove_table" in output and "social_login_settings" in output


def test_the_readme_sets_the_secret_key_in_the_ini_the_starters_tests_use():
    """A generated starter runs its own tests (``pytest``) from ``testing.ini``: a host that
    puts the secret key in ``development.ini`` only, as the README's lines once said, has
    every one of its tests fail at start ("cms_social_login.secret_key is required")."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Including it in a CMS", 1)[1].split("\n## ", 1)[0]
    ini_block = section.split("```ini\n", 1)[1].split("```", 1)[0]
    assert "testing.ini" in ini_block
    assert "cms_social_login.secret_key" in (PROJECT / "testing.ini").read_text()
