"""Shared fixtures: a Bitbucket emulator on 127.0.0.1, the demo site on a fresh database
(SQLite and PostgreSQL), and an editor's and a visitor's browsers, over HTTP with WebTest.

The site is built by the test kit (:mod:`cms_social_login.testing.plugin`) and reused
(:class:`~cms_social_login.testing.site_pool.SitePool`): each worker keeps one database per
template migrated once per session, put back to the template's content for each test (the
template copied into the file with SQLite's backup API; on PostgreSQL the rows deleted and
the template's inserted again), and one site per settings, which forgets what it remembered
(:func:`cms_social_login.cached_state.forget_cached_state`) before the next test gets it. A
test that changes the site beyond that is marked ``@pytest.mark.fresh_app`` and gets a site
of its own. Constants and steps the tests import live in :mod:`tests.helpers`.

Markers (registered in ``pyproject.toml``) are set here, by what a test uses:
``postgresql`` (the ``[postgresql]`` half, or the server itself), ``browser`` (Chromium,
everything under ``tests/e2e``) and ``slow`` (the modules in :data:`SLOW_MODULES`).

``pytest`` runs on every core (pytest-xdist, ``-n auto --dist loadgroup`` in
``pyproject.toml``): each worker process has its own session fixtures (PostgreSQL server,
templates, emulators, Chromium), and the tests go one by one to whichever worker is free,
except the groups named here (:data:`ONE_WORKER_MODULES`, the browser tests), which run
whole on one worker. ``pytest -n 0`` runs everything in one process.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from cms_social_login.testing import steps
from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator
from cms_social_login.testing.plugin import build_site_database, wants_fresh_app

from .helpers import CALLBACK_URL, CLIENT_ID, CLIENT_SECRET, SECRET_KEY, submit_bitbucket

#: Set to a PostgreSQL URL (``postgresql+psycopg://...``) to run the PostgreSQL half of
#: the suite on that server instead of a private one (each test gets a new database).
DATABASE_ENV = "CMS_SOCIAL_LOGIN_TEST_DATABASE_URL"
#: The databases every site test runs on (comma separated; default both).
TEST_DATABASES = [name.strip() for name in os.environ.get(
    "CMS_SOCIAL_LOGIN_TEST_DATABASES", "sqlite,postgresql").split(",") if name.strip()]
#: Test modules (paths under tests/) that take seconds each: other processes, pip, node,
#: timing benchmarks, generated input.
SLOW_MODULES = frozenset({
    "host_starter/test_starter_host.py",
    "oidc_certified/test_certified_op.py",
    "production/test_benchmarks.py",
    "production/test_many_processes.py",
    "providers/test_example_package.py",
    "security/test_fuzz.py",
    "security/test_concurrency.py",
    "test_emulator_command.py",
})
#: Test modules that run whole on one worker under pytest-xdist: those whose tests share
#: a costly module- or class-scoped fixture (other processes, a pip install), which each
#: worker would otherwise set up again, and test_fresh_database.py, whose last test checks
#: what the test before it left behind. The browser tests share one Chromium the same way.
ONE_WORKER_MODULES = frozenset({
    "host_starter/test_starter_host.py",
    "oidc_certified/test_certified_op.py",
    "production/test_many_processes.py",
    "providers/test_example_package.py",
    "test_fresh_database.py",
})
_TESTS = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects, and before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test ``browser`` / ``postgresql`` / ``slow`` by what it uses, and put the
    tests that share a worker in their ``xdist_group``."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        path = Path(str(item.fspath))
        relative = path.relative_to(_TESTS).as_posix() if path.is_relative_to(_TESTS) else ""
        if relative.startswith("e2e/") or "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif relative in ONE_WORKER_MODULES:
            item.add_marker(pytest.mark.xdist_group(relative))
        if "postgresql_server" in fixtures:  # the [postgresql] half is marked by its param
            item.add_marker(pytest.mark.postgresql)
        if relative in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


# --------------------------------------------------------------------------- emulator


@pytest.fixture(scope="session")
def bitbucket_server():
    """One Bitbucket emulator for the whole run, with the site's OAuth consumer."""
    with BitbucketEmulator() as emulator:
        emulator.add_client(CLIENT_ID, CLIENT_SECRET, callback_url=CALLBACK_URL)
        yield emulator


@pytest.fixture
def bitbucket(bitbucket_server):
    """The emulator with no pending codes, tokens, failures or log."""
    bitbucket_server.reset()
    yield bitbucket_server
    bitbucket_server.reset()


@pytest.fixture
def bitbucket_user(bitbucket):
    """A Bitbucket account whose primary address is confirmed, logged in at Bitbucket."""
    user = bitbucket.add_user("Ada Lovelace", nickname="ada",
                              emails=[{"email": "old@example.org", "is_primary": False,
                                       "is_confirmed": True},
                                      {"email": "ada@example.org", "is_primary": True,
                                       "is_confirmed": True}])
    bitbucket.current_user = user
    return user


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def postgresql_server():
    """A PostgreSQL server for the run: the one at CMS_SOCIAL_LOGIN_TEST_DATABASE_URL
    (its user may create databases), else a private one started from Debian's binaries.

    Skipped with the reason when neither is possible; under ``CI=true`` that fails.
    """
    from cms_social_login.testing.postgresql import (
        ExistingPostgreSQL,
        PostgreSQLServer,
        PostgreSQLUnavailable,
        postgresql_unavailable,
    )

    url = os.environ.get(DATABASE_ENV)
    if url:
        yield ExistingPostgreSQL(url)
        return
    reason = postgresql_unavailable()
    if reason is None:
        try:
            server = PostgreSQLServer().start()
        except PostgreSQLUnavailable as exc:
            reason = f"PostgreSQL did not start: {exc}"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgresql_template(postgresql_server) -> str:
    """The name of a PostgreSQL database migrated once per session (with the demo editor),
    the template of each test's site database."""
    name = f"template_{uuid.uuid4().hex[:16]}"
    build_site_database(postgresql_server.create_database(name))
    yield name
    postgresql_server.drop_database(name)


@pytest.fixture
def first_start() -> dict[str, str]:
    """Settings of the demo's first start that the test's database starts from (none: the
    templates above). A directory whose sites start otherwise overrides it (tests/sites:
    with the editors of site-a and site-b); its template is made once per session."""
    return {}


@pytest.fixture(scope="session")
def first_start_sqlite_templates(tmp_path_factory):
    """``template(first_start)``: a SQLite template file made once per session for those
    first-start settings."""
    made: dict[tuple, Path] = {}

    def template(settings: dict[str, str]) -> Path:
        key = tuple(sorted(settings.items()))
        if key not in made:
            path = tmp_path_factory.mktemp("first-start") / "template.sqlite"
            build_site_database(f"sqlite:///{path}", settings)
            made[key] = path
        return made[key]

    return template


@pytest.fixture(scope="session")
def first_start_postgresql_templates(postgresql_server):
    """``template(first_start)``: the name of a PostgreSQL template database made once per
    session for those first-start settings."""
    made: dict[tuple, str] = {}

    def template(settings: dict[str, str]) -> str:
        key = tuple(sorted(settings.items()))
        if key not in made:
            name = f"template_{uuid.uuid4().hex[:16]}"
            build_site_database(postgresql_server.create_database(name), settings)
            made[key] = name
        return made[key]

    yield template
    for name in made.values():
        postgresql_server.drop_database(name)


@pytest.fixture(scope="session")
def postgresql_site_databases(postgresql_server, social_login_site_pool):
    """``database(template)``: the URL of the worker's database made from the PostgreSQL
    database ``template``, now with its rows (dropped before the server stops)."""
    yield lambda template: social_login_site_pool.postgresql_database(postgresql_server,
                                                                      template)
    social_login_site_pool.drop_postgresql_databases(postgresql_server)


@pytest.fixture(params=[pytest.param(name, marks=[pytest.mark.postgresql])
                        if name == "postgresql" else name for name in TEST_DATABASES])
def database_kind(request) -> str:
    """``sqlite`` or ``postgresql``: every test that uses a database runs once on each
    (``[sqlite]`` / ``[postgresql]``); CMS_SOCIAL_LOGIN_TEST_DATABASES=sqlite (or
    postgresql) narrows a local run to one."""
    return request.param


@pytest.fixture
def database_url(request, database_kind, tmp_path):
    """A fresh, empty database (no schema): SQLite in a temporary folder, or a new
    PostgreSQL database."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path}/site.sqlite"
        return
    server = request.getfixturevalue("postgresql_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def site_database_url(request, database_kind, first_start, social_login_site_pool):
    """A database as the site's first start leaves it (schema migrated, demo editor
    made): the worker's database of the kit's SQLite template, or of
    :func:`postgresql_template` (with :func:`first_start` settings: of their template),
    put back to the template's content for this test."""
    if first_start:
        template = request.getfixturevalue(f"first_start_{database_kind}_templates")(first_start)
    elif database_kind == "sqlite":
        template = request.getfixturevalue("social_login_database_template")
    else:
        template = request.getfixturevalue("postgresql_template")
    if database_kind == "sqlite":
        return social_login_site_pool.sqlite_database(template)
    return request.getfixturevalue("postgresql_site_databases")(template)


# --------------------------------------------------------------------------- the site


@pytest.fixture
def app_settings(site_database_url, bitbucket_server, social_login_template_cache):
    """The demo site's settings, pointing Bitbucket at the emulator."""
    return {
        "sqlalchemy.url": site_database_url,
        **social_login_template_cache,
        "cms_social_login.secret_key": SECRET_KEY,
        "cms_social_login.http_timeout": "5",  # generous: a loaded CI machine is slow
        "cms_social_login.allow_private_provider_urls": "true",  # the emulators: loopback
        "cms_social_login.bitbucket.authorize_url": bitbucket_server.authorize_url,
        "cms_social_login.bitbucket.token_url": bitbucket_server.token_url,
        "cms_social_login.bitbucket.api_url": bitbucket_server.api_url,
        "cms_demo.setup_database": "true",
        "retry.attempts": "3",
    }


@pytest.fixture
def app(request, app_settings, social_login_extra_sys_path, social_login_site_pool):
    """The demo site's WSGI app on a fresh database, as the kit's ``social_login_app``: the
    worker's site for these settings, made to forget its state (``fresh_app``: a new one)."""
    with social_login_site_pool.site(app_settings, social_login_extra_sys_path,
                                     fresh=wants_fresh_app(request)) as application:
        yield application


@pytest.fixture
def editor(app):
    """A browser signed in as the demo editor."""
    browser = steps.make_browser(app)
    steps.sign_in(browser)
    return browser


@pytest.fixture
def visitor(app):
    """A fresh anonymous browser."""
    return steps.make_browser(app)


@pytest.fixture
def make_browser(app):
    """Another independent browser on the site."""
    return lambda: steps.make_browser(app)


@pytest.fixture
def published_bitbucket(editor):
    """The editor has saved (published) a working Bitbucket tab."""
    submit_bitbucket(editor, "save").follow()
    return editor
