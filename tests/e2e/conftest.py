"""Browser fixtures: Debian's Chromium driven by Playwright, the demo site served by waitress
on a free 127.0.0.1 port, and a Bitbucket emulator whose consumer points back at that site.

Without /usr/bin/chromium or the playwright package the browser tests are skipped with the
reason; under ``CI=true`` they fail instead, since CI installs both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator
from cms_social_login.testing.live_server import LiveServer
from cms_social_login.testing.plugin import copy_sqlite_database, dispose_site

from .helpers import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, sign_in_as_editor

CHROMIUM = "/usr/bin/chromium"
#: Headless Chromium on a closed network: without the background-networking switches its
#: own connections (updates, sync, safe browsing) are refused and slow every page down.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
#: When this run collected the browser tests (see :func:`screenshot_dir`).
COLLECTED_AT = time.time()
#: Full-page screenshots draw sticky bars where the viewport happened to be: put them back
#: in the flow while the picture is taken.
UNSTICK = ".editor-bar, .dialog-buttons, .preview-banner { position: static !important; }"
#: Playwright's default wait (ms): generous for a loaded 2-core machine, short enough to fail fast.
TIMEOUT_MS = 10_000




def _unavailable(reason: str) -> None:
    """Skip the browser tests with ``reason``, or fail them under CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run here)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, for the whole run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable('playwright is not installed: python -m pip install -e ".[test]"')
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def axe() -> Any:
    """axe-core (the copy bundled by the axe-playwright-python package), for Playwright pages."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _unavailable('axe-playwright-python is not installed: python -m pip install -e ".[test]"')
    return Axe()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where each step's screenshot goes (emptied of the PNGs of earlier runs: those older
    than this module's import, which under pytest-xdist every worker does while it
    collects, before any test runs, so no worker deletes another's)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        if old.stat().st_mtime < COLLECTED_AT:
            old.unlink()
    return SCREENSHOTS


@pytest.fixture
def shoot(screenshot_dir: Path) -> Callable[..., Path]:
    """``shoot(page, "01-name")`` saves a full-page screenshot and returns its path."""

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(
            path=str(path),
            full_page=full_page,
            animations="disabled",
            style=UNSTICK if full_page else None,
        )
        return path

    return take


@pytest.fixture
def new_context(chromium) -> Iterator[Callable[..., Any]]:
    """Make fresh browser contexts (separate cookies: a separate person); closed at the end."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 860})
        options.setdefault("device_scale_factor", 1)
        options.setdefault("locale", "en-GB")
        context = chromium.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


# ---------------------------------------------------------------------- the servers


@pytest.fixture(scope="session")
def bitbucket_e2e() -> Iterator[BitbucketEmulator]:
    """A Bitbucket emulator on 127.0.0.1 for the browser tests (consumers added per site)."""
    with BitbucketEmulator() as emulator:
        yield emulator


@pytest.fixture
def bitbucket(bitbucket_e2e: BitbucketEmulator) -> Iterator[BitbucketEmulator]:
    """The emulator with a user logged in at Bitbucket and nothing pending."""
    bitbucket_e2e.reset()
    user = bitbucket_e2e.add_user("Ada Lovelace", nickname="ada", emails=["ada@example.org"])
    bitbucket_e2e.current_user = user
    yield bitbucket_e2e
    bitbucket_e2e.reset()


@dataclass
class Site:
    """The running demo site."""

    url: str
    app: Any

    def __call__(self, path: str = "/") -> str:
        """The absolute URL of ``path``."""
        return self.url + path

    @property
    def callback_url(self) -> str:
        return self.url + "/login/bitbucket/callback"


@pytest.fixture
def make_site(tmp_path: Path, bitbucket_e2e: BitbucketEmulator,
              social_login_database_template: Path,
              social_login_template_cache: dict[str, str]) -> Iterator[Callable[..., Site]]:
    """Start the demo site (``cms_demo.main``) on a fresh SQLite file (a copy of the kit's
    migrated template) and a free port.

    ``extra_providers`` are added through ``config.add_social_login_provider`` after the
    bundled ones, as a host site would.
    """
    from pyramid.config import Configurator

    from cms_demo import main

    servers: list[tuple[LiveServer, Any]] = []

    def start(extra_providers: Sequence[type] = ()) -> Site:
        settings = {
            "sqlalchemy.url": copy_sqlite_database(social_login_database_template,
                                                   tmp_path / f"site-{len(servers)}.sqlite"),
            **social_login_template_cache,
            "cms_social_login.secret_key": SECRET_KEY,
            "cms_social_login.http_timeout": "5",
            "cms_social_login.site_name": "Demo CMS",  # as development.ini names the demo
            "cms_social_login.allow_private_provider_urls": "true",  # the emulators: loopback
            "cms_social_login.bitbucket.authorize_url": bitbucket_e2e.authorize_url,
            "cms_social_login.bitbucket.token_url": bitbucket_e2e.token_url,
            "cms_social_login.bitbucket.api_url": bitbucket_e2e.api_url,
            "cms_demo.setup_database": "true",
            "retry.attempts": "3",
        }
        app = main({}, **settings)
        if extra_providers:
            config = Configurator(registry=app.registry, package="tests.e2e")
            for factory in extra_providers:
                config.add_social_login_provider(factory)
            config.commit()
        server = LiveServer(app, threads=6, name="e2e-site")
        servers.append((server, app))
        site = Site(url=server.url, app=app)
        bitbucket_e2e.add_client(
            CLIENT_ID, CLIENT_SECRET, callback_url=site.callback_url, name="Demo CMS"
        )
        return site

    yield start
    for server, app in servers:
        server.stop()
        dispose_site(app)


@pytest.fixture
def site(make_site) -> Site:
    """The demo site with the providers it ships (Bitbucket)."""
    return make_site()


# ---------------------------------------------------------------------- people


@pytest.fixture
def editor_page(new_context, site: Site) -> Any:
    """A page signed in as the demo editor, on the editor's Site overview."""
    page = new_context().new_page()
    sign_in_as_editor(page, site)
    return page


@pytest.fixture
def visitor_page(new_context) -> Any:
    """A page in a fresh browser context: a visitor with no cookies."""
    return new_context().new_page()
