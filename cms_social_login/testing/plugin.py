"""The pytest plugin of the provider author kit (entry point ``pytest11: cms_social_login``).

Installed with ``cms_social_login``, it offers these fixtures to any test suite:

``social_login_settings``
    The settings of the test site (override it to add yours, requesting the original).
``social_login_database_template``
    A SQLite database file made once per session as the demo site's first start leaves
    it: the add-on's migrations run, the demo's table made, the ``editor`` / ``editor``
    account created (:func:`build_site_database`; the account's password hashed with
    :data:`TEMPLATE_PASSWORD_ROUNDS`).
``social_login_database_url``
    The test's SQLite database, as the template is: one file per session
    (:class:`~cms_social_login.testing.site_pool.SitePool`), into which the template is
    copied again for each test (override it to start from an empty file, e.g. for a host
    site whose own start makes its schema).
``social_login_template_cache``
    Settings that give every site of the session one Jinja2 bytecode cache (each template
    compiles once per run); part of ``social_login_settings``.
``social_login_app``
    The demo host site (``cms_demo``) with the add-on, on that database. It is built once
    per session for the same settings and handed to each test after
    :func:`cms_social_login.cached_state.forget_cached_state` (published settings, cached
    pages, the providers' HTTP clients and discovery caches forgotten): with its database
    reset, it is what a site freshly built on a fresh database is. A test that changes
    the site beyond that (adds a view, changes its registry or a provider object by hand)
    is marked ``@pytest.mark.fresh_app`` and gets a site of its own, disposed after it.
    (:func:`site_app` builds one site; suites with settings of their own build their
    sites with it or with the pool.)
``social_login_site_pool``
    The session's :class:`~cms_social_login.testing.site_pool.SitePool`: the reused
    databases and sites behind the two fixtures above.
``social_login_browser``, ``social_login_editor``, ``social_login_visitor``
    A factory of WebTest browsers, one signed in as the editor (through the password form,
    in each test: no session is shared between tests), one anonymous.
``social_login_dbsession``
    A SQLAlchemy session on the site's database (for assertions).

A host site runs these fixtures on its own application by overriding one fixture,
``social_login_app`` (see ``docs/testing-your-site.md``).
``social_login_extra_sys_path``
    Folders put on ``sys.path`` while the site is built (default none): where a provider
    package installed by ``social_login_package_installer`` is found.
``social_login_package_installer``
    ``install(path)`` pip-installs a provider package into a temporary folder, once per
    session, and returns that folder (not on ``sys.path``).
``bitbucket_emulator``, ``github_emulator``, ``gitlab_emulator``, ``oidc_emulator``
    The local emulators, served on 127.0.0.1 once per session (``*_emulator_server``) and
    reset for each test, with the client :data:`KIT_CLIENT_ID` / :data:`KIT_CLIENT_SECRET`
    registered for the site's callback URL of the provider.

The names avoid a host project's own fixtures (``app``, ``bitbucket``...). Loading the
plugin imports no test dependency: WebTest, the demo site and the emulators are imported
by the fixtures that use them.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from .steps import callback_url, make_browser, sign_in


def _let_pyramid_serve_static_files_under_pytest() -> None:
    """pytest loads this plugin's distribution (``cms_social_login``) through its
    assertion-rewriting import hook, a loader ``pkg_resources`` does not know, so Pyramid's
    static view (asset specs) would fail in every test run that has this plugin. The
    modules are plain files: the default provider reads them."""
    try:
        import pkg_resources
        from _pytest.assertion.rewrite import AssertionRewritingHook
    except ImportError:  # pragma: no cover - newer setuptools or pytest
        return
    pkg_resources.register_loader_type(AssertionRewritingHook, pkg_resources.DefaultProvider)


_let_pyramid_serve_static_files_under_pytest()


def pytest_configure(config: pytest.Config) -> None:
    """Register the kit's marker."""
    config.addinivalue_line(
        "markers", "fresh_app: the test gets a site of its own, not the session's reused one "
        "(it changes the site in a way a reset does not undo)")

#: The secret key of the test site.
KIT_SECRET_KEY = "kit-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
#: The client registered at the kit's emulators.
KIT_CLIENT_ID = "kit-client-id-0001"
KIT_CLIENT_SECRET = "kit-client-secret-Zq8pL2vR7xT4"


@contextmanager
def on_sys_path(paths: Iterable[str | Path]) -> Iterator[None]:
    """Put ``paths`` first on ``sys.path`` for the block (imports and entry points); the
    modules imported from them are forgotten after it."""
    added = [str(p) for p in paths if str(p) not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for path in added:
            if path in sys.path:
                sys.path.remove(path)
        # Forget the modules imported from there: another site may install a package of
        # the same name elsewhere (e.g. a newer version of the same plugin).
        roots = tuple(str(Path(path).resolve()) + os.sep for path in added)
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if roots and origin and str(Path(origin).resolve()).startswith(roots):
                del sys.modules[name]
        importlib.invalidate_caches()


def pip_install(source: str | Path, target: Path) -> Path:
    """``pip install --no-deps --target target source`` from a copy of ``source``.

    It tries without build isolation first (no download: the build backend must be
    installed, e.g. setuptools with bdist_wheel), then with it (pip fetches the backend).
    """
    source = Path(source).resolve()
    copy = target.parent / f"{target.name}-src"
    shutil.copytree(source, copy, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--disable-pip-version-check", "--target", str(target), str(copy)]
    attempts = [command[:4] + ["--no-build-isolation"] + command[4:], command]
    outputs = []
    for attempt in attempts:
        result = subprocess.run(attempt, capture_output=True, text=True, timeout=300)
        if result.returncode == 0:
            return target
        outputs.append(result.stdout[-2000:] + result.stderr[-2000:])
    raise RuntimeError(f"pip could not install {source}:\n" + "\n---\n".join(outputs))


# --------------------------------------------------------------------------- the site


def dispose_site(app: Any) -> None:
    """Close the database connections of ``app`` (a site including the add-on)."""
    from ..models import get_social_login_engine

    get_social_login_engine(app.registry).dispose()


def build_site(settings: Mapping[str, str], extra_sys_path: Iterable[str | Path] = ()
               ) -> Any:
    """The demo host site (``cms_demo.main``) on ``settings``, built with
    ``extra_sys_path`` on ``sys.path``; :func:`dispose_site` closes its connections."""
    from cms_demo import main

    with on_sys_path(extra_sys_path):
        return main({}, **settings)


@contextmanager
def site_app(settings: Mapping[str, str], extra_sys_path: Iterable[str | Path] = ()
             ) -> Iterator[Any]:
    """:func:`build_site` for the block; its database connections are closed after it."""
    app = build_site(settings, extra_sys_path)
    try:
        yield app
    finally:
        dispose_site(app)


def build_site_database(url: str, first_start: Mapping[str, str] | None = None) -> None:
    """Leave the empty database at ``url`` as the demo site's first start does: the
    add-on's migrations run, the demo's table made, the demo editor accounts created
    (their passwords hashed with :data:`TEMPLATE_PASSWORD_ROUNDS`). ``first_start`` are
    more settings of that start (``{"cms_demo.site_editors": "true"}`` adds the editors
    of site-a and site-b)."""
    settings = {**(first_start or {}), "sqlalchemy.url": url,
                "cms_social_login.secret_key": KIT_SECRET_KEY,
                "cms_demo.setup_database": "true"}
    with site_app(settings) as app:
        _rehash_demo_editors(app.registry["dbsession_factory"])


#: PBKDF2 rounds of the demo editors' passwords in the template database. The demo stores
#: the rounds with each hash and checks a password with the rounds stored (its own new
#: hashes have 200 000), so a test's sign-in costs a millisecond instead of a fifth of a
#: second of CPU; the check itself is the same code.
TEMPLATE_PASSWORD_ROUNDS = 1000


def _rehash_demo_editors(session_factory: Any) -> None:
    """Store the passwords of the demo editor accounts the first start made (``editor``,
    and ``editor-a`` / ``editor-b`` when it made those) as :class:`cms_demo.models.User`
    does, with :data:`TEMPLATE_PASSWORD_ROUNDS` rounds."""
    import hashlib
    import secrets

    from sqlalchemy import select

    from cms_demo.bootstrap import DEMO_EDITOR
    from cms_demo.models import User
    from cms_demo.sites import SITE_EDITORS

    passwords = dict([DEMO_EDITOR] + [(login, password) for _site, login, password
                                      in SITE_EDITORS])
    with session_factory() as db:
        for user in db.scalars(select(User).where(User.username.in_(passwords))):
            salt = secrets.token_hex(16)
            digest = hashlib.pbkdf2_hmac("sha256", passwords[user.username].encode(),
                                         salt.encode(), TEMPLATE_PASSWORD_ROUNDS)
            user.password_hash = (f"pbkdf2_sha256${TEMPLATE_PASSWORD_ROUNDS}${salt}$"
                                  f"{digest.hex()}")
        db.commit()


#: SQLite's result codes SQLITE_BUSY and SQLITE_LOCKED (``sqlite3`` names them from
#: Python 3.11 only).
SQLITE_BUSY_OR_LOCKED = (5, 6)


def copy_sqlite_database(source: str | Path, target: str | Path,
                         busy_timeout: float = 5.0) -> str:
    """Copy the SQLite database ``source`` into ``target`` (a new file, or one whose
    content it replaces) with SQLite's backup API (a consistent copy whatever the journal
    mode); return its URL. Raises ``sqlite3.OperationalError`` when another connection
    keeps ``target`` locked for ``busy_timeout`` seconds (SQLite's backup would wait for
    ever)."""
    import sqlite3

    def give_up_when_locked(status: int, _remaining: int, _total: int) -> None:
        if status in SQLITE_BUSY_OR_LOCKED:
            raise sqlite3.OperationalError(f"{target} is locked by another connection")

    with closing(sqlite3.connect(source)) as original, \
            closing(sqlite3.connect(target, timeout=busy_timeout)) as copy:
        original.backup(copy, progress=give_up_when_locked)
    return f"sqlite:///{target}"


def template_cache_settings(folder: str | Path) -> dict[str, str]:
    """Settings that keep Jinja2's compiled templates in ``folder`` (pyramid_jinja2's
    bytecode cache): sites built one after another compile each template once, not once
    each. Jinja2 checks each cached entry against the template's source before use."""
    return {"jinja2.bytecode_caching": "true", "jinja2.bytecode_caching_directory": str(folder)}


@pytest.fixture(scope="session")
def social_login_template_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """:func:`template_cache_settings` on a folder of the session, shared by every site."""
    return template_cache_settings(tmp_path_factory.mktemp("jinja2-bytecode"))


@pytest.fixture(scope="session")
def social_login_database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session (with the demo editor), copied per test."""
    path = tmp_path_factory.mktemp("social-login-template") / "template.sqlite"
    build_site_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def social_login_site_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's reused databases and sites (:mod:`.site_pool`)."""
    from .site_pool import SitePool

    pool = SitePool(tmp_path_factory.mktemp("social-login-sites"))
    try:
        yield pool
    finally:
        pool.close()


def wants_fresh_app(request: pytest.FixtureRequest) -> bool:
    """Whether the test is marked ``fresh_app`` (a site of its own, not the reused one)."""
    return request.node.get_closest_marker("fresh_app") is not None


@pytest.fixture
def social_login_database_url(social_login_database_template: Path,
                              social_login_site_pool: Any) -> str:
    """The session's SQLite database, now a copy of the template."""
    return social_login_site_pool.sqlite_database(social_login_database_template)


@pytest.fixture
def social_login_settings(social_login_database_url: str,
                          social_login_template_cache: dict[str, str]) -> dict[str, str]:
    """The test site's settings; override to add provider settings."""
    return {
        **social_login_template_cache,
        "sqlalchemy.url": social_login_database_url,
        "cms_social_login.secret_key": KIT_SECRET_KEY,
        "cms_social_login.http_timeout": "1",
        "cms_social_login.allow_private_provider_urls": "true",  # the emulators: loopback
        "cms_demo.setup_database": "true",
        "retry.attempts": "3",
    }


@pytest.fixture(scope="session")
def social_login_extra_sys_path() -> tuple[str, ...]:
    """Folders on ``sys.path`` while the site is built (none by default)."""
    return ()


@pytest.fixture
def social_login_app(request: pytest.FixtureRequest, social_login_settings: dict[str, str],
                     social_login_extra_sys_path: Iterable[str],
                     social_login_site_pool: Any) -> Iterator[Any]:
    """The demo host site including ``cms_social_login``, on a fresh database: the
    session's site for these settings, made to forget its state (``fresh_app``: a new
    one)."""
    with social_login_site_pool.site(social_login_settings, social_login_extra_sys_path,
                                     fresh=wants_fresh_app(request)) as app:
        yield app


@pytest.fixture
def social_login_browser(social_login_app: Any) -> Callable[[], Any]:
    """Make a new, independent browser on the site."""
    return lambda: make_browser(social_login_app)


@pytest.fixture
def social_login_editor(social_login_browser: Callable[[], Any]) -> Any:
    """A browser signed in as the demo editor."""
    browser = social_login_browser()
    sign_in(browser)
    return browser


@pytest.fixture
def social_login_visitor(social_login_browser: Callable[[], Any]) -> Any:
    """An anonymous browser."""
    return social_login_browser()


def site_session_factory(app: Any) -> Any:
    """A ``sessionmaker`` on the database of ``app``'s add-on tables, outside any request:
    the add-on's own, or one on the bind of the host's session."""
    from pyramid.scripting import prepare

    from ..models import session_factory_for

    env = prepare(registry=app.registry)
    try:
        return session_factory_for(env["request"])
    finally:
        env["closer"]()


@pytest.fixture
def social_login_dbsession(social_login_app: Any) -> Iterator[Any]:
    """A session on the site's database (read what a test did; commit nothing)."""
    session = site_session_factory(social_login_app)()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def social_login_package_installer(tmp_path_factory: pytest.TempPathFactory
                                   ) -> Callable[[str | Path], Path]:
    """``install(path)``: pip-install a provider package (once per session per path)."""
    installed: dict[Path, Path] = {}

    def install(source: str | Path) -> Path:
        key = Path(source).resolve()
        if key not in installed:
            target = tmp_path_factory.mktemp("provider-package") / "site"
            installed[key] = pip_install(key, target)
        return installed[key]

    return install


# --------------------------------------------------------------------------- emulators


def _served(emulator: Any, provider_name: str) -> Iterator[Any]:
    emulator.start()
    emulator.add_client(KIT_CLIENT_ID, KIT_CLIENT_SECRET, callback_url=callback_url(
        provider_name))
    try:
        yield emulator
    finally:
        emulator.stop()


def _fresh(emulator: Any) -> Iterator[Any]:
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture(scope="session")
def bitbucket_emulator_server() -> Iterator[Any]:
    """A Bitbucket emulator for the session."""
    from .bitbucket_emulator import BitbucketEmulator

    yield from _served(BitbucketEmulator(), "bitbucket")


@pytest.fixture
def bitbucket_emulator(bitbucket_emulator_server: Any) -> Iterator[Any]:
    """The Bitbucket emulator, reset."""
    yield from _fresh(bitbucket_emulator_server)


@pytest.fixture(scope="session")
def github_emulator_server() -> Iterator[Any]:
    """A GitHub emulator for the session."""
    from .github_emulator import GitHubEmulator

    yield from _served(GitHubEmulator(), "github")


@pytest.fixture
def github_emulator(github_emulator_server: Any) -> Iterator[Any]:
    """The GitHub emulator, reset."""
    yield from _fresh(github_emulator_server)


@pytest.fixture(scope="session")
def gitlab_emulator_server() -> Iterator[Any]:
    """A GitLab emulator (PKCE required) for the session."""
    from .gitlab_emulator import GitLabEmulator

    yield from _served(GitLabEmulator(), "gitlab")


@pytest.fixture
def gitlab_emulator(gitlab_emulator_server: Any) -> Iterator[Any]:
    """The GitLab emulator, reset."""
    yield from _fresh(gitlab_emulator_server)


@pytest.fixture(scope="session")
def oidc_emulator_server() -> Iterator[Any]:
    """An OpenID Connect emulator for the session (client registered for ``oidc``)."""
    from .oidc_emulator import OIDCEmulator

    yield from _served(OIDCEmulator(), "oidc")


@pytest.fixture
def oidc_emulator(oidc_emulator_server: Any) -> Iterator[Any]:
    """The OpenID Connect emulator, reset (overrides and forged signatures off)."""
    yield from _fresh(oidc_emulator_server)
