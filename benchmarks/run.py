"""Benchmarks of the hot paths, each measured side by side with its baseline in one run.

    python benchmarks/run.py            # about two to three minutes
    python benchmarks/run.py --quick    # seconds: a smoke run with tiny sizes
    python benchmarks/run.py --only 6   # only benchmark 6 (--only 1,4: 1a, 1b, 4 and 4b)

1. ``GET /login`` with Bitbucket published, against a bare Pyramid + Jinja2 view rendering
   the same HTML in the same process (target >= 0.8 of the bare view's throughput), for
   a visitor with a cookie jar and for a first-time visitor (no cookies), with the
   settings of development.ini on SQLite and of production.ini on PostgreSQL. Both are
   called as WSGI applications in this process, no network in between, neither checks
   its templates for changes (``pyramid.reload_templates = false`` in both ini files and
   in the bare app), and the site runs with its ini file's settings (among them the
   ``tm.activate_hook`` that serves the anonymous page without a transaction). Each
   ratio is given per wall-clock second and per CPU second of the benchmark's thread
   (the latter leaves out what other programs on a busy machine take).
2. A full SSO login through the site against the local Bitbucket emulator, against a
   bare client making the same HTTP calls directly (target >= 0.7 of its rate).
3. The callback's identity lookup with 1,000 and with 1,000,000 linked identities in
   PostgreSQL (target: p50 ratio <= 1.2).
4. Peak memory (VmHWM) of a ``pserve production.ini`` worker process serving the login
   page (target <= 60 MiB), and (4b) with 1 and with 20 provider instances (target: at
   most 0.5 MiB per provider).
5. Cost growth on PostgreSQL: the editor's audit page, filtered, with 100 and with 100,000
   audit rows; the history page with 1 and with 100 published versions (target: p50
   ratio <= 1.5 each).
7. Many logins at once (issue 13): 200 first logins at the same moment over two
   ``pserve production.ini`` workers on one PostgreSQL database against the Bitbucket
   emulator (each started on one worker, finished on the other), then one Bitbucket
   account from 20 browsers at once (target: no 5xx; p50 / p99 of the login's two
   requests to the site; the one account ends as exactly one local user and identity).
6. Many sites (issue 14): ``GET /login`` for a random one of 10,000 sites with published
   settings, against the single-site deployment of benchmark 1 (target: cost ratio
   <= 1.3), with ``cms_social_login.site_cache_size = 10000`` (every site cached, as
   a 10,000-site platform sets it) and again with 1000 (90% of the requests miss the
   cache: what a miss costs); the worker memory the caches take per site and in all
   (tracemalloc), bounded by ``site_cache_size`` whatever the number of sites.

It starts its own PostgreSQL server (Debian's binaries, see
``cms_social_login.testing.postgresql``) and Bitbucket emulator on 127.0.0.1; it needs
the test extra (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack as contextlib_exit_stack
from contextlib import contextmanager, nullcontext
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from cms_social_login.models import get_session_factory, get_social_login_engine  # noqa: E402
from cms_social_login.services.identities import find_identity  # noqa: E402
from cms_social_login.testing.bitbucket_emulator import BitbucketEmulator  # noqa: E402
from cms_social_login.testing.postgresql import PostgreSQLServer, free_port  # noqa: E402

SITE = "http://localhost"
CLIENT_ID = "benchClientId0123456789"
CLIENT_SECRET = "benchClientSecret-0123456789-abcdefghij"
SECRET_KEY = "benchmark-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
EDITOR = ("editor", "editor")

TARGETS = {"login_page": 0.8, "sso_login": 0.7, "identity_lookup": 1.2,
           "audit_page": 1.5, "history_page": 1.5, "many_sites": 1.3}
#: The host names of benchmark 6's sites: ``<key>.sites.localhost``.
SITES_DOMAIN = ".sites.localhost"


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}


# --------------------------------------------------------------------------- WSGI driver


class WsgiBrowser:
    """A minimal in-process browser: calls a WSGI app, keeps its cookies."""

    def __init__(self, app: Callable, host: str = "localhost") -> None:
        self.app = app
        self.host = host
        self.cookies: dict[str, str] = {}

    def request(self, path: str, method: str = "GET", body: bytes = b"",
                content_type: str = "") -> tuple[int, dict[str, str], bytes]:
        """Send one request; (status, headers, body)."""
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path,
            "QUERY_STRING": query, "SERVER_NAME": self.host, "SERVER_PORT": "80",
            "HTTP_HOST": self.host, "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "CONTENT_TYPE": content_type,
        }
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> None:
            answer[:] = [status, headers]

        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, header_list = answer
        headers: dict[str, str] = {}
        for name, value in header_list:
            if name.lower() == "set-cookie":
                cookie = SimpleCookie()
                cookie.load(value)
                for key, morsel in cookie.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = morsel.value
            headers[name.lower()] = value
        return int(status.split()[0]), headers, data

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET ``path``."""
        return self.request(path)

    def post(self, path: str, fields: list[tuple[str, str]]
             ) -> tuple[int, dict[str, str], bytes]:
        """POST a form."""
        return self.request(path, "POST", urlencode(fields).encode(),
                            "application/x-www-form-urlencoded")


def form_fields(html: str, form_id: str | None = None, action_end: str | None = None
                ) -> list[tuple[str, str]]:
    """The fields a browser submits from a form (no button pressed)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    if form_id:
        form = soup.find("form", id=form_id)
    else:
        form = next(f for f in soup.find_all("form")
                    if (f.get("action") or "").endswith(action_end or ""))
    fields: list[tuple[str, str]] = []
    for element in form.find_all(["input", "select", "textarea"]):
        name = element.get("name")
        if not name or element.has_attr("disabled"):
            continue
        if element.name == "input":
            kind = (element.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                continue
            if kind in ("checkbox", "radio") and not element.has_attr("checked"):
                continue
            fields.append((name, element.get("value", "on")))
        elif element.name == "select":
            chosen = element.find("option", selected=True) or element.find("option")
            if chosen is not None:
                fields.append((name, chosen.get("value", chosen.get_text())))
        else:
            fields.append((name, element.get_text()))
    return fields


# --------------------------------------------------------------------------- the site


@contextmanager
def running_site(database_url: str, emulator: BitbucketEmulator, publish: bool = True,
                 ini: str = "production.ini", **extra: str) -> Iterator[Any]:
    """The demo site (migrated) with the app settings of ``ini``, by default with Bitbucket
    published, as a WSGI app."""
    from pyramid.paster import get_appsettings

    from cms_demo import main

    app = main({}, **{
        **get_appsettings(str(ROOT / ini)),
        **extra,
        "sqlalchemy.url": database_url,
        "cms_social_login.sqlalchemy.url": database_url,
        "cms_demo.demo_editor": "true",
        # The emulator listens on loopback, which production's address policy refuses.
        "cms_social_login.allow_private_provider_urls": "true",
        "cms_social_login.secret_key": SECRET_KEY,
        "cms_social_login.site_url": SITE,
        "cms_social_login.http_timeout": "5",
        "cms_social_login.bitbucket.authorize_url": emulator.authorize_url,
        "cms_social_login.bitbucket.token_url": emulator.token_url,
        "cms_social_login.bitbucket.api_url": emulator.api_url,
        "cms_demo.setup_database": "true",
        "retry.attempts": "3",
    })
    try:
        if publish:
            publish_bitbucket(app)
        yield app
    finally:
        get_social_login_engine(app.registry).dispose()


def signed_in_editor(app: Any) -> WsgiBrowser:
    """The demo editor, signed in with the password form."""
    editor = WsgiBrowser(app)
    _, _, page = editor.get("/login")
    fields = dict(form_fields(page.decode(), action_end="/login"))
    fields.update(login=EDITOR[0], password=EDITOR[1])
    status, _, _ = editor.post("/login", list(fields.items()))
    assert status == 303, status
    return editor


def publish_bitbucket(app: Any) -> None:
    """Sign in as the demo editor and Save a working Bitbucket tab."""
    editor = signed_in_editor(app)
    _, _, page = editor.get("/editor/system-pages/login/settings?tab=bitbucket")
    fields = [(k, v) for k, v in form_fields(page.decode(), form_id="login-settings-form")
              if k not in ("bitbucket.enabled", "bitbucket.client_id",
                           "bitbucket.client_secret")]
    fields += [("bitbucket.enabled", "on"), ("bitbucket.client_id", CLIENT_ID),
               ("bitbucket.client_secret", CLIENT_SECRET), ("action", "save")]
    status, _, body = editor.post("/editor/system-pages/login/settings", fields)
    assert status == 303, body[:2000]


def quiet_logging() -> None:
    """Keep the site's warnings out of the figures' way."""
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("cms_social_login").setLevel(logging.ERROR)


# --------------------------------------------------------------------------- 1. login page


def bare_login_app(html: str, folder: Path) -> Any:
    """A bare Pyramid + Jinja2 app whose ``/login`` view renders ``html`` (same bytes)."""
    from markupsafe import escape
    from pyramid.config import Configurator

    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    source = html.replace("{", "{{ '{' }}")  # literal braces (inline CSS, JSON) stay
    if token:
        source = source.replace(token.group(1), "{{ csrf_token }}")
    (folder / "bare_login.jinja2").write_text(source)
    value = str(escape(token.group(1))) if token else ""

    def view(request: Any) -> dict[str, str]:
        return {"csrf_token": value}

    with Configurator(settings={"pyramid.reload_templates": "false"}) as config:
        config.include("pyramid_jinja2")
        config.add_jinja2_search_path(str(folder), name=".jinja2")
        config.add_route("login", "/login")
        config.add_view(view, route_name="login", renderer="bare_login.jinja2")
    return config.make_wsgi_app()


def rates(browser: WsgiBrowser, path: str, seconds: float) -> tuple[float, float]:
    """``GET path`` for about ``seconds``: requests per second of wall-clock time, and
    per second of this thread's CPU time (what other programs on a busy machine take
    from the wall clock does not count in the second)."""
    done, start, cpu_start = 0, time.perf_counter(), time.thread_time()
    deadline = start + seconds
    while True:
        for _ in range(20):
            status, _, _ = browser.get(path)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status}")
        done += 20
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start), done / max(time.thread_time() - cpu_start, 1e-9)


def throughput(browser: WsgiBrowser, path: str, seconds: float) -> float:
    """Requests per second of ``GET path`` for about ``seconds``."""
    return rates(browser, path, seconds)[0]


class FirstTimeBrowser(WsgiBrowser):
    """A visitor who has never been here: no cookies on any request."""

    def request(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        self.cookies.clear()
        return super().request(*args, **kwargs)


def bench_login_page(site: Any, checking_site: Any | None = None, rounds: int = 7,
                     seconds: float = 1.5) -> dict[str, Any]:
    """Benchmark 1: the site's ``GET /login`` vs the bare view, in interleaved rounds, for a
    visitor with a cookie jar and for a first-time visitor.

    ``checking_site`` is the same site with ``cms_social_login.published_max_age = 0``
    (the published version read on every request), measured alongside for comparison.
    """
    visitor = WsgiBrowser(site)
    status, headers, html = visitor.get("/login")
    assert status == 200 and b"Log in with Bitbucket" in html
    sides: dict[str, WsgiBrowser] = {"site": visitor, "first_time": FirstTimeBrowser(site)}
    if checking_site is not None:
        sides["checking"] = WsgiBrowser(checking_site)
        assert b"Log in with Bitbucket" in sides["checking"].get("/login")[2]
    with tempfile.TemporaryDirectory() as folder:
        sides["bare"] = WsgiBrowser(bare_login_app(html.decode(), Path(folder)))
        status, _, bare_html = sides["bare"].get("/login")
        assert status == 200 and len(bare_html) == len(html), (len(bare_html), len(html))
        walls: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        for browser in sides.values():  # warm up
            throughput(browser, "/login", seconds / 3)
        for _ in range(rounds):
            for name, browser in sides.items():
                wall, cpu = rates(browser, "/login", seconds)
                walls[name].append(wall)
                cpus[name].append(cpu)
    rate = {name: statistics.median(values) for name, values in walls.items()}
    cpu_rate = {name: statistics.median(values) for name, values in cpus.items()}
    result = {"site_rps": rate["site"], "bare_rps": rate["bare"],
              "ratio": rate["site"] / rate["bare"], "first_time_rps": rate["first_time"],
              "first_time_ratio": rate["first_time"] / rate["bare"],
              "cpu_ratio": cpu_rate["site"] / cpu_rate["bare"],
              "first_time_cpu_ratio": cpu_rate["first_time"] / cpu_rate["bare"],
              "set_cookie": "set-cookie" in headers, "html_bytes": len(html),
              "target": TARGETS["login_page"]}
    if "checking" in rate:
        result["checking_rps"] = rate["checking"]
        result["checking_ratio"] = rate["checking"] / rate["bare"]
    return result


# --------------------------------------------------------------------------- 5. many sites


def site_of_host(request: Any) -> str:
    """Benchmark 6's site resolver: ``site-17.sites.localhost`` is the site ``site-17``."""
    host = request.host.partition(":")[0]
    return host[:-len(SITES_DOMAIN)] if host.endswith(SITES_DOMAIN) else "default"


def many_sites_app(database_url: str, emulator: BitbucketEmulator, cache_size: int) -> Any:
    """The demo's parts, as a platform host would put them together, with a resolver
    that tells the site by host name, and the app settings of production.ini (as the
    single-site deployment it is compared with)."""
    from pyramid.config import Configurator
    from pyramid.paster import get_appsettings

    settings = {
        **get_appsettings(str(ROOT / "production.ini")),
        "sqlalchemy.url": database_url,
        "cms_social_login.secret_key": SECRET_KEY,
        "cms_social_login.site_cache_size": str(cache_size),
        "cms_social_login.http_timeout": "5",
        "cms_social_login.bitbucket.authorize_url": emulator.authorize_url,
        "cms_social_login.bitbucket.token_url": emulator.token_url,
        "cms_social_login.bitbucket.api_url": emulator.api_url,
        "retry.attempts": "3",
    }
    with Configurator(settings=settings) as config:
        config.include("cms_social_login")
        config.include("cms_demo.models")
        config.set_social_login_dbsession(
            "request.dbsession", session_factory=config.registry["dbsession_factory"])
        config.include("cms_demo.security")
        config.set_social_login_user_adapter("cms_demo.users.DemoUserAdapter")
        config.set_social_login_site_resolver(site_of_host)
    return config.make_wsgi_app()


def bulk_insert(url: str, table: str, insert: str, count: int, migrate: bool = False
                ) -> float:
    """Run ``insert`` (an ``INSERT ... SELECT`` over ``generate_series(1, :count)``) in one
    transaction, then ``VACUUM ANALYZE`` ``table`` so the planner knows its new size;
    ``migrate`` first brings the schema up. Returns the seconds it took."""
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        if migrate:
            from cms_social_login.migrations import upgrade

            upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text(insert), {"count": count})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def copy_published_to_sites(url: str, count: int) -> float:
    """Give ``count`` sites (``site-1`` ...) the default site's published settings."""
    return bulk_insert(url, "social_login_settings", (
        "INSERT INTO social_login_settings (site, stage, version, document, "
        "updated_at, updated_by) SELECT 'site-' || i, stage, version, document, "
        "now(), updated_by FROM social_login_settings, generate_series(1, :count) "
        "AS i WHERE site = 'default' AND stage = 'published'"), count)


def random_site_throughput(browser: WsgiBrowser, sites: int, seconds: float,
                           rng: random.Random) -> float:
    """Requests per second of ``GET /login``, each for a random one of ``sites``."""
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            browser.host = f"site-{rng.randint(1, sites)}{SITES_DOMAIN}"
            status, _, body = browser.get("/login")
            if status != 200 or b"Log in with Bitbucket" not in body:
                raise RuntimeError(f"GET /login on {browser.host}: {status}")
        done += 20
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def visit_every_site(browser: WsgiBrowser, sites: int) -> None:
    """``GET /login`` once on each of ``sites`` sites, in order (a worker that has served
    them all)."""
    for number in range(1, sites + 1):
        browser.host = f"site-{number}{SITES_DOMAIN}"
        status, _, body = browser.get("/login")
        if status != 200 or b"Log in with Bitbucket" not in body:
            raise RuntimeError(f"GET /login on {browser.host}: {status}")


def cache_bytes(app: Any, sites: int) -> tuple[int, int]:
    """What the process holds for ``sites`` sites served once each (tracemalloc: the
    published snapshots, the rendered pages, the caches' own entries): the bytes grown
    and how many sites the cache holds afterwards."""
    import gc
    import tracemalloc

    from cms_social_login.services.published import CACHE_KEY

    browser = WsgiBrowser(app)
    browser.get("/login")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        visit_every_site(browser, sites)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return grown, len(app.registry[CACHE_KEY])


def many_sites_with_cache(url: str, emulator: BitbucketEmulator, one: WsgiBrowser,
                          sites: int, cache_size: int, rounds: int, seconds: float,
                          rng: random.Random) -> dict[str, Any]:
    """Benchmark 6 with one ``site_cache_size``: a worker that served every site once,
    then random sites against the single site in interleaved rounds; then, in a fresh
    worker, the memory its caches take."""
    from cms_social_login.services.published import CACHE_KEY

    platform_app = many_sites_app(url, emulator, cache_size)
    try:
        many = WsgiBrowser(platform_app)
        visit_every_site(many, sites)
        throughput(one, "/login", seconds / 3)  # warm up
        random_site_throughput(many, sites, seconds / 3, rng)
        rates: dict[str, list[float]] = {"single": [], "many": []}
        for _ in range(rounds):
            rates["single"].append(throughput(one, "/login", seconds))
            rates["many"].append(random_site_throughput(many, sites, seconds, rng))
        cached = len(platform_app.registry[CACHE_KEY])
    finally:
        get_social_login_engine(platform_app.registry).dispose()
    measured = many_sites_app(url, emulator, cache_size)
    try:
        grown, held = cache_bytes(measured, min(sites, cache_size))
    finally:
        get_social_login_engine(measured.registry).dispose()
    single_rps = statistics.median(rates["single"])
    many_rps = statistics.median(rates["many"])
    return {"sites": sites, "cache_size": cache_size, "single_rps": single_rps,
            "many_rps": many_rps, "cost_ratio": single_rps / many_rps,
            "cached_sites": cached, "miss_share": max(0.0, 1 - cache_size / sites),
            "cache_bytes_per_site": grown / max(1, held),
            "cache_mib": grown / 2**20, "measured_sites": held,
            "target": TARGETS["many_sites"]}


def bench_many_sites(server: PostgreSQLServer, emulator: BitbucketEmulator,
                     sites: int = 10_000, cache_sizes: tuple[int, ...] = (10_000, 1000),
                     rounds: int = 7, seconds: float = 1.5) -> dict[str, Any]:
    """Benchmark 6: ``GET /login`` of a random site among ``sites`` (each with published
    settings) against the single-site deployment, once for each cache size (the first
    is the headline: a platform that caches all its sites; the others show what cache
    misses cost)."""
    url = server.create_database("bench_sites")
    rng = random.Random(14)
    try:
        with running_site(url, emulator) as single:
            setup = copy_published_to_sites(url, sites)
            one = WsgiBrowser(single)
            assert b"Log in with Bitbucket" in one.get("/login")[2]
            runs = [many_sites_with_cache(url, emulator, one, sites, size, rounds, seconds,
                                          rng) for size in cache_sizes]
    finally:
        server.drop_database("bench_sites")
    return {**runs[0], "setup_s": setup, "smaller_caches": runs[1:]}


# --------------------------------------------------------------------------- 2. SSO login


def site_login(site: Any, emulator: BitbucketEmulator) -> None:
    """One visitor's whole login through the site (fresh browser)."""
    browser = WsgiBrowser(site)
    status, headers, _ = browser.get("/login/bitbucket")
    assert status == 302, status
    back = emulator.approve(headers["location"])
    parts = urlsplit(back)
    status, headers, body = browser.get(f"{parts.path}?{parts.query}")
    # Signed in: off to where the visitor came from (a failure goes back to /login).
    assert status == 303 and not urlsplit(headers["location"]).path.startswith("/login"), (
        status, headers.get("location"), body[:500])


class BareClient:
    """The same HTTP calls as the site's login, made directly with one requests.Session."""

    def __init__(self, emulator: BitbucketEmulator, calls: list[str]) -> None:
        self.emulator = emulator
        self.calls = calls
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"

    def login(self) -> None:
        """Authorize, approve, exchange the code, read the API like the provider does."""
        import secrets

        redirect_uri = f"{SITE}/login/bitbucket/callback"
        state = secrets.token_urlsafe(32)
        authorize = self.emulator.authorize_url + "?" + urlencode({
            "client_id": CLIENT_ID, "response_type": "code", "state": state,
            "redirect_uri": redirect_uri})
        back = self.emulator.approve(authorize)
        query = dict(pair.split("=", 1) for pair in urlsplit(back).query.split("&"))
        assert query.get("state") == state
        token = self.http.post(self.emulator.token_url, data={
            "grant_type": "authorization_code", "code": query["code"],
            "redirect_uri": redirect_uri}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5)
        access = token.json()["access_token"]
        bearer = {"Authorization": f"Bearer {access}"}
        for endpoint in self.calls:
            answer = self.http.get(f"{self.emulator.api_url}{endpoint}", headers=bearer,
                                   timeout=5)
            answer.json()


def site_api_calls(site: Any, emulator: BitbucketEmulator) -> list[str]:
    """The API paths the site's provider calls during one login (from the emulator log)."""
    emulator.log.clear()
    site_login(site, emulator)
    prefix = urlsplit(emulator.api_url).path
    return [urlsplit(entry.path).path[len(prefix):] + (
        "?" + urlencode(entry.query) if entry.query else "")
        for entry in emulator.log if entry.path.startswith(prefix)]


def floor_sso_site(url: str, emulator: BitbucketEmulator) -> Any:
    """Benchmark 2's floor: the same login written straight on the stack
    (``benchmarks/floor_sso.py``), on the site's database and emulator."""
    from benchmarks import floor_sso

    return floor_sso.make_app(
        url, site=SITE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        authorize_url=emulator.authorize_url, token_url=emulator.token_url,
        api_url=emulator.api_url, secret=SECRET_KEY)


def bench_sso_login(site: Any, emulator: BitbucketEmulator, rounds: int = 5,
                    logins: int = 40, floor: Any = None) -> dict[str, Any]:
    """Benchmark 2: logins per second through the site vs the bare client (and, given
    ``floor``, through the stack's floor: the same login on a bare Pyramid app)."""
    calls = site_api_calls(site, emulator)
    bare = BareClient(emulator, calls)
    bare.login()
    if floor is not None:
        site_login(floor, emulator)  # its first login links the account
    rates: dict[str, list[float]] = {"site": [], "bare": [], "floor": []}
    runs = {"site": lambda: site_login(site, emulator), "bare": bare.login,
            "floor": lambda: site_login(floor, emulator)}
    for _ in range(rounds):
        for name, login in runs.items():
            if name == "floor" and floor is None:
                continue
            start = time.perf_counter()
            for _ in range(logins):
                login()
            rates[name].append(logins / (time.perf_counter() - start))
        emulator.log.clear()
    if floor is not None:  # the floor's logins were committed, as the site's are
        from benchmarks.floor_sso import committed_logins

        assert committed_logins(floor) == 1 + rounds * logins, committed_logins(floor)
    site_rate, bare_rate = statistics.median(rates["site"]), statistics.median(rates["bare"])
    figures = {"site_logins_per_s": site_rate, "bare_logins_per_s": bare_rate,
               "ratio": site_rate / bare_rate, "api_calls": ["token", *calls],
               "target": TARGETS["sso_login"]}
    if floor is not None:
        floor_rate = statistics.median(rates["floor"])
        figures.update(floor_logins_per_s=floor_rate, floor_ratio=floor_rate / bare_rate,
                       site_vs_floor=site_rate / floor_rate)
    return figures


# --------------------------------------------------------------------------- 3. identity lookup


def fill_identities(url: str, count: int) -> float:
    """Migrate ``url`` and insert ``count`` linked identities with generate_series."""
    return bulk_insert(url, "social_login_identities", (
        "INSERT INTO social_login_identities (provider, issuer, provider_user_id, "
        "userid, display_name, email, created_at, last_login_at) "
        "SELECT 'bitbucket', 'https://api.bitbucket.org', '{' || md5(i::text) || '}', "
        "'user-' || i, "
        "'User ' || i, 'user' || i || '@example.org', now(), now() "
        "FROM generate_series(1, :count) AS i"), count, migrate=True)


def wanted_identities(count: int, samples: int) -> list[str]:
    """``samples`` provider user ids of :func:`fill_identities`'s ``count``, at random."""
    rng = random.Random(count)
    return ["{" + hashlib.md5(str(rng.randint(1, count)).encode(),
                              usedforsecurity=False).hexdigest() + "}"
            for _ in range(samples)]


def lookup_timings(urls: dict[str, str], counts: dict[str, int], samples: int,
                   warm_up: int = 200) -> dict[str, list[float]]:
    """Seconds per identity lookup (the callback's query, through the ORM session) on each
    database of ``urls``, one lookup on each in turn (the order of each pair alternates),
    so whatever else the machine does hits both alike; the first ``warm_up`` lookups of
    each (connection, statement cache) are not counted."""
    engines = {name: create_engine(url) for name, url in urls.items()}
    sessions = {name: get_session_factory(engine)() for name, engine in engines.items()}
    wanted = {name: wanted_identities(counts[name], warm_up + samples) for name in urls}
    timings: dict[str, list[float]] = {name: [] for name in urls}
    names = list(urls)
    try:
        for index in range(warm_up + samples):
            for name in (names if index % 2 else names[::-1]):
                dbsession = sessions[name]
                start = time.perf_counter()
                identity = find_identity(dbsession, "default", "bitbucket",
                                         "https://api.bitbucket.org", wanted[name][index])
                elapsed = time.perf_counter() - start
                assert identity is not None
                dbsession.expunge_all()
                if index >= warm_up:
                    timings[name].append(elapsed)
    finally:
        for name in urls:
            sessions[name].close()
            engines[name].dispose()
    return timings


def explain(url: str) -> str:
    """The plan PostgreSQL picks for the lookup."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "EXPLAIN SELECT * FROM social_login_identities "
                "WHERE site = 'default' AND provider = 'bitbucket' "
                "AND issuer = 'https://api.bitbucket.org' "
                "AND provider_user_id = '{x}'")).scalars()
            return " / ".join(row.strip() for row in rows)
    finally:
        engine.dispose()


def bench_identity_lookup(server: PostgreSQLServer, small: int = 1_000,
                          large: int = 1_000_000, samples: int = 10_000,
                          parts: int = 5) -> dict[str, Any]:
    """Benchmark 3: p50 of the lookup with ``small`` and with ``large`` identities
    (``samples`` lookups each, interleaved one by one); the ratio also per ``parts``
    consecutive shares of the samples, to show how much it moves within one run."""
    urls = {}
    setup = {}
    counts = {"small": small, "large": large}
    for name, count in counts.items():
        urls[name] = server.create_database(f"bench_identities_{name}")
        setup[name] = fill_identities(urls[name], count)
    timings = lookup_timings(urls, counts, samples)
    p50 = {name: statistics.median(values) for name, values in timings.items()}
    p99 = {name: sorted(values)[int(len(values) * 0.99) - 1] for name, values in
           timings.items()}
    size = max(samples // parts, 1)
    part_ratios = [statistics.median(timings["large"][start:start + size])
                   / statistics.median(timings["small"][start:start + size])
                   for start in range(0, size * parts, size)]
    plan = explain(urls["large"])
    for name in urls:
        server.drop_database(f"bench_identities_{name}")
    return {"identities": counts, "samples": samples,
            "p50_ms": {k: v * 1000 for k, v in p50.items()},
            "p99_ms": {k: v * 1000 for k, v in p99.items()},
            "setup_s": setup, "ratio": p50["large"] / p50["small"], "plan": plan,
            "part_ratios": part_ratios, "target": TARGETS["identity_lookup"]}


# --------------------------------------------------------------------------- 5. growth


#: The audit page as an editor filters it: sign-ins at Bitbucket that worked, last 30 days.
AUDIT_PAGE = ("/editor/system-pages/login/audit?kind=signin&action=success"
              "&provider=bitbucket&days=30")
HISTORY_PAGE = "/editor/system-pages/login/history"


def fill_activity(url: str, audit_rows: int, versions: int, matching: int = 0) -> None:
    """``audit_rows`` audit events over the last 60 days and ``versions`` - 1 more published
    versions. Of the events, ``matching`` are the newest, Bitbucket sign-ins that worked
    in the last hour (what :data:`AUDIT_PAGE` shows); the others a mix (a quarter of them
    Bitbucket sign-ins that worked)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO social_login_audit (at, kind, action, actor, provider, detail) "
                "SELECT now() - (i % 86400) * interval '1 minute' - interval '1 hour', "
                "CASE WHEN i % 2 = 0 THEN 'signin' ELSE 'editor' END, "
                "CASE WHEN i % 4 = 0 THEN 'success' WHEN i % 2 = 0 THEN 'denied' "
                "ELSE 'apply' END, 'user-' || (i % 500), "
                "CASE WHEN i % 3 = 0 THEN 'github' ELSE 'bitbucket' END, '{}' "
                "FROM generate_series(1, :count) AS i"), {"count": audit_rows - matching})
            connection.execute(text(
                "INSERT INTO social_login_audit (at, kind, action, actor, provider, detail) "
                "SELECT now() - i * interval '30 seconds', 'signin', 'success', "
                "'user-' || (i % 500), 'bitbucket', '{}' "
                "FROM generate_series(1, :count) AS i"), {"count": matching})
            connection.execute(text(
                "INSERT INTO social_login_publish_history (version, document, published_at, "
                "published_by) SELECT 1000 + i, document, now() - i * interval '1 hour', "
                "'1' FROM social_login_publish_history, generate_series(1, :count) AS i"),
                {"count": versions - 1})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def audit_rows_shown(browser: WsgiBrowser) -> int:
    """How many events the first page of :data:`AUDIT_PAGE` lists."""
    _, _, page = browser.get(AUDIT_PAGE)
    return len(re.findall(rb'<tr class="audit-', page))


def page_seconds(browser: WsgiBrowser, path: str) -> float:
    """The time of one ``GET path`` (which must answer 200)."""
    start = time.perf_counter()
    status, _, _ = browser.get(path)
    elapsed = time.perf_counter() - start
    assert status == 200, (path, status)
    return elapsed


def bench_growth(server: PostgreSQLServer, emulator: BitbucketEmulator,
                 sizes: dict[str, tuple[int, int]], samples: int = 150,
                 warm_up: int = 5) -> dict[str, Any]:
    """Benchmark 5: the audit page (filtered) and the history page, on a small and on a
    large site: ``sizes`` maps "small" / "large" to (audit rows, published versions);
    ``samples`` requests of each page on each site, one on each site in turn (the order
    of each pair alternates), after ``warm_up`` of each that are not counted.

    Like is compared with like: the small log's newest rows are sign-ins the filter
    matches, so both first pages list a full page of events (the large log's mix alone
    would leave the small one's page a third full)."""
    from cms_social_login.services.audit import PAGE_SIZE

    timings: dict[str, dict[str, list[float]]] = {"audit": {}, "history": {}}
    shown = {}
    with contextlib_exit_stack() as stack:
        editors = {}
        for name, (audit_rows, versions) in sizes.items():
            url = server.create_database(f"bench_growth_{name}")
            stack.callback(server.drop_database, f"bench_growth_{name}")
            site = stack.enter_context(running_site(url, emulator))
            fill_activity(url, audit_rows, versions,
                          matching=min(audit_rows, PAGE_SIZE + 10) if name == "small" else 0)
            editors[name] = signed_in_editor(site)
            shown[name] = audit_rows_shown(editors[name])
        if len(set(shown.values())) != 1:
            raise RuntimeError(f"the audit pages list different numbers of events: {shown}")
        names = list(editors)
        for index in range(warm_up + samples):  # interleaved: drift hits both alike
            for page, path in (("audit", AUDIT_PAGE), ("history", HISTORY_PAGE)):
                for name in (names if index % 2 else names[::-1]):
                    elapsed = page_seconds(editors[name], path)
                    if index >= warm_up:
                        timings[page].setdefault(name, []).append(elapsed * 1000)
    result: dict[str, Any] = {"sizes": sizes, "audit_rows_shown": shown}
    for page, target in (("audit", TARGETS["audit_page"]), ("history", TARGETS["history_page"])):
        p50 = {name: statistics.median(values) for name, values in timings[page].items()}
        result[page] = {"p50_ms": p50, "ratio": p50["large"] / p50["small"], "target": target}
    return result


# --------------------------------------------------------------------------- 4. memory


def vm_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure in KiB (VmHWM: peak resident, VmRSS: now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def migrate_database(url: str) -> None:
    """Bring a new database up, as production.ini's deployment steps do
    (``cms-social-login-db production.ini upgrade`` before the workers start)."""
    from cms_demo.models import Base
    from cms_social_login.migrations import upgrade

    engine = create_engine(url)
    try:
        upgrade(engine)
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


@contextmanager
def pserve_worker(url: str, emulator: BitbucketEmulator,
                  extra_env: dict[str, str] | None = None, ini: Path = ROOT / "production.ini",
                  python: str = sys.executable) -> Iterator[tuple[Any, str]]:
    """A ``pserve production.ini`` process (or of another ``ini``, run by another
    ``python``) on a free 127.0.0.1 port, once ``/login`` answers: (its ``Popen``, its
    base URL). It runs in the project folder: this checkout's code is what it serves."""
    env = {**os.environ, **(extra_env or {}), "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL": url,
           "CMS_SOCIAL_LOGIN_SECRET_KEY": SECRET_KEY,
           "CMS_SOCIAL_LOGIN_SITE_URL": SITE,
           "CMS_SOCIAL_LOGIN_BITBUCKET_AUTHORIZE_URL": emulator.authorize_url,
           "CMS_SOCIAL_LOGIN_BITBUCKET_TOKEN_URL": emulator.token_url,
           "CMS_SOCIAL_LOGIN_BITBUCKET_API_URL": emulator.api_url}
    port = free_port()
    worker = subprocess.Popen(
        [python, "-m", "pyramid.scripts.pserve", str(ini),
         f"http_port={port}"], env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if worker.poll() is not None:
                raise RuntimeError(worker.stderr.read().decode(errors="replace")[-2000:])
            try:
                if requests.get(base + "/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("worker did not start")
            time.sleep(0.1)
        yield worker, base
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def load_worker(worker: Any, base: str, requests_count: int, clients: int) -> dict[str, Any]:
    """Send ``requests_count`` ``GET /login`` from ``clients`` threads to a started worker;
    its memory figures (MiB) after start and after the load."""
    started_kib = vm_kib(worker.pid, "VmHWM")
    started_rss_kib = vm_kib(worker.pid, "VmRSS")
    errors: list[str] = []

    def client(count: int) -> None:
        with requests.Session() as http:
            for _ in range(count):
                answer = http.get(base + "/login", timeout=10)
                if answer.status_code != 200 or b"Log in with Bitbucket" not in \
                        answer.content:
                    errors.append(str(answer.status_code))

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(requests_count // clients,))
               for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} bad answers, e.g. {errors[0]}")
    return {"peak_rss_mib": vm_kib(worker.pid, "VmHWM") / 1024,
            "rss_after_start_mib": started_kib / 1024,
            "rss_now_after_start_mib": started_rss_kib / 1024,
            "rss_now_mib": vm_kib(worker.pid, "VmRSS") / 1024,
            "requests": requests_count, "clients": clients,
            "http_rps": requests_count / elapsed}


def floor_ini(folder: Path, url: str, page: str) -> Path:
    """production.ini with its app replaced by ``benchmarks/floor_app.py`` (serving
    ``page``, the site's login page): the same server, threads and pool."""
    (folder / "floor.page").write_text(page)
    source = (ROOT / "production.ini").read_text()
    app = (f"[app:main]\nuse = call:benchmarks.floor_app:main\n"
           f"pyramid.reload_templates = false\nsqlalchemy.url = {url}\n"
           f"sqlalchemy.pool_size = 8\nsqlalchemy.max_overflow = 4\n"
           f"floor.page = {folder / 'floor.page'}\nretry.attempts = 3\n"
           f"tm.annotate_user = false\n\n")
    ini = folder / "floor.ini"
    ini.write_text(source[:source.index("[app:main]")] + app
                   + source[source.index("[server:main]"):])
    return ini


def bench_worker_memory(server: PostgreSQLServer, emulator: BitbucketEmulator,
                        requests_count: int = 3000, clients: int = 8,
                        extra_env: dict[str, str] | None = None, floor: bool = False,
                        python: str = sys.executable) -> dict[str, Any]:
    """Benchmark 4: peak RSS of a ``pserve production.ini`` worker serving ``/login``
    (the database migrated first, Bitbucket published through another worker); with
    ``floor``, also of the stack's floor (``benchmarks/floor_app.py``: the same page from a
    bare Pyramid app on the same stack and server) under the same load. ``python`` runs
    the measured workers (e.g. of a virtualenv holding only the runtime dependencies)."""
    from cms_demo.bootstrap import create_editor

    url = server.create_database("bench_worker")
    try:
        migrate_database(url)
        engine = create_engine(url)
        create_editor(get_session_factory(engine), "bench", "bench-password-1")
        engine.dispose()
        # An editor publishes Bitbucket through another worker (the editor's pages and
        # the Save's encryption are not what the measured worker serves).
        with pserve_worker(url, emulator, extra_env) as (_, editors_worker):
            publish_over_http(editors_worker)
        with pserve_worker(url, emulator, extra_env, python=python) as (worker, base):
            figures = load_worker(worker, base, requests_count, clients)
            figures["python"] = python
            page = requests.get(base + "/login", timeout=10).text
        if floor:
            with tempfile.TemporaryDirectory() as folder, pserve_worker(
                    url, emulator, ini=floor_ini(Path(folder), url, page),
                    python=python) as (worker, base):
                figures["floor"] = load_worker(worker, base, requests_count, clients)
        return figures
    finally:
        server.drop_database("bench_worker")


# --------------------------------------------------------------------------- 7. many logins


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def bench_concurrent_logins(server: PostgreSQLServer, emulator: BitbucketEmulator,
                            logins: int = 200, same_account: int = 20) -> dict[str, Any]:
    """Benchmark 7: ``logins`` first logins at once (each its own Bitbucket account) over
    two ``pserve production.ini`` workers on one PostgreSQL database, each login started
    on one worker and finished on the other; then ``same_account`` browsers logging in to
    one Bitbucket account at once. Every answer that is a 5xx is counted (target: none);
    the login's latency (start + callback, the two requests to the site) is reported as
    p50 / p99; the one account must end as one local user with one linked identity."""
    from cms_demo.bootstrap import create_editor
    from cms_demo.models import User
    from cms_social_login.models import LinkedIdentity

    url = server.create_database("bench_logins")
    private = {"CMS_SOCIAL_LOGIN_ALLOW_PRIVATE_PROVIDER_URLS": "true",
               "CMS_SOCIAL_LOGIN_HTTP_TIMEOUT": "30"}
    try:
        migrate_database(url)
        with pserve_worker(url, emulator, private) as (_, first), \
                pserve_worker(url, emulator, private) as (_, second):
            engine = create_engine(url)
            create_editor(get_session_factory(engine), "bench", "bench-password-1")
            publish_over_http(first)
            time.sleep(1.5)  # the Save is live on every worker within a second
            workers = (first, second)
            failures: list[str] = []

            def at_once(calls: list[Callable[[], requests.Response]]
                        ) -> list[tuple[requests.Response | None, float]]:
                """Make every call at the same moment (threads behind a barrier): each
                answer (None: none in time) with its seconds."""
                barrier = threading.Barrier(len(calls))
                answers: list[tuple[requests.Response | None, float]] = [
                    (None, 0.0)] * len(calls)

                def one(number: int) -> None:
                    barrier.wait(timeout=60)
                    started = time.perf_counter()
                    try:
                        answers[number] = (calls[number](), time.perf_counter() - started)
                    except requests.RequestException as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")

                threads = [threading.Thread(target=one, args=(n,)) for n in range(len(calls))]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=300)
                return answers

            def run_at_once(accounts: list[Any]) -> dict[str, Any]:
                """Every browser starts its login at once (on one worker), approves it at
                Bitbucket, then all come back at once (to the other worker)."""
                browsers = [requests.Session() for _ in accounts]
                for browser in browsers:
                    # As from the load balancer production.ini expects in front: no idle
                    # connection is held to a worker (waitress serves at most
                    # connection_limit = 100 connections at a time, idle ones included).
                    browser.headers["Connection"] = "close"
                begins = at_once([
                    (lambda b=b, n=n: b.get(workers[n % 2] + "/login/bitbucket",
                                            allow_redirects=False, timeout=120))
                    for n, b in enumerate(browsers)])
                # At Bitbucket (not the site's work, so not timed and not all at once:
                # the emulator shares this process with the 200 browsers).
                backs: list[str | None] = [None] * len(accounts)
                for number, (begin, _) in enumerate(begins):
                    if begin is not None and begin.status_code == 302:
                        backs[number] = emulator.approve(begin.headers["location"],
                                                         user=accounts[number])
                callbacks = at_once([
                    (lambda b=b, n=n: b.get(
                        workers[(n + 1) % 2] + urlsplit(backs[n] or "/").path + "?"
                        + urlsplit(backs[n] or "/").query,
                        allow_redirects=False, timeout=120))
                    for n, b in enumerate(browsers)])
                for browser in browsers:
                    browser.close()
                statuses = [a.status_code for a, _ in begins + callbacks if a is not None]
                signed_in = [seconds for answer, seconds in callbacks
                             if answer is not None and answer.status_code == 303
                             and not urlsplit(answer.headers["location"]).path
                             .startswith("/login")]
                begin_seconds = [seconds for answer, seconds in begins if answer is not None]
                return {"signed_in": len(signed_in),
                        "server_errors": sum(1 for status in statuses if status >= 500),
                        "begin_p50_s": statistics.median(begin_seconds),
                        "begin_p99_s": percentile(begin_seconds, 0.99),
                        "callback_p50_s": statistics.median(signed_in or [float("nan")]),
                        "callback_p99_s": percentile(signed_in or [float("nan")], 0.99)}

            accounts = [emulator.add_user(f"Concurrent {n}", nickname=f"concurrent-{n}")
                        for n in range(logins)]
            many = run_at_once(accounts)
            grace = emulator.add_user("Grace Hopper", nickname="grace")
            same = run_at_once([grace] * same_account)
            with get_session_factory(engine)() as db:
                users = db.scalar(select(func.count()).select_from(User).where(
                    User.display_name == "Grace Hopper"))
                identities = db.scalar(select(func.count()).select_from(
                    LinkedIdentity).where(LinkedIdentity.display_name == "Grace Hopper"))
            engine.dispose()
    finally:
        server.drop_database("bench_logins")
    return {"logins": logins, **many, "same_account": same_account,
            "same": same, "same_users": users, "same_identities": identities,
            "no_answer": len(failures), "no_answer_example": failures[:1]}


def bench_memory_per_provider(server: PostgreSQLServer, emulator: BitbucketEmulator,
                              requests_count: int = 600, many: int = 20) -> dict[str, Any]:
    """Benchmark 4b: peak RSS with 1 and with ``many`` OpenID Connect provider instances
    (``cms_social_login.oidc.providers``: one tab, one provider object and one pooled
    HTTP client each), the four shipped providers installed in both."""
    sizes = {}
    for count in (1, many):
        names = " ".join(f"idp{i}" for i in range(count))
        figures = bench_worker_memory(server, emulator, requests_count=requests_count,
                                      clients=4,
                                      extra_env={"CMS_SOCIAL_LOGIN_OIDC_PROVIDERS": names})
        sizes[count] = figures["peak_rss_mib"]
    return {"providers": [1, many], "peak_rss_mib": [sizes[1], sizes[many]],
            "per_provider_mib": (sizes[many] - sizes[1]) / (many - 1),
            "requests": requests_count}


def publish_over_http(base: str) -> None:
    """Sign in on a running worker and Save the Bitbucket tab."""
    http = requests.Session()
    page = http.get(base + "/login", timeout=10).text
    fields = dict(form_fields(page, action_end="/login"))
    fields.update(login="bench", password="bench-password-1")
    answer = http.post(base + "/login", data=fields, allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.status_code
    page = http.get(base + "/editor/system-pages/login/settings?tab=bitbucket", timeout=10)
    fields = [(k, v) for k, v in form_fields(page.text, form_id="login-settings-form")
              if k not in ("bitbucket.enabled", "bitbucket.client_id",
                           "bitbucket.client_secret")]
    fields += [("bitbucket.enabled", "on"), ("bitbucket.client_id", CLIENT_ID),
               ("bitbucket.client_secret", CLIENT_SECRET), ("action", "save")]
    answer = http.post(base + "/editor/system-pages/login/settings", data=fields,
                       allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text[:2000]


# --------------------------------------------------------------------------- main


#: The benchmarks by number, as ``--only`` names them.
BENCHMARKS = ("1", "2", "3", "4", "5", "6", "7")


def parse_only(value: str) -> frozenset[str]:
    """``--only 6`` or ``--only 1,6``: the benchmark numbers to run (argparse's type)."""
    numbers = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(numbers - set(BENCHMARKS))
    if not numbers or unknown:
        raise argparse.ArgumentTypeError(
            f"benchmark numbers are {', '.join(BENCHMARKS)}, got {value!r}")
    return numbers


def run(quick: bool = False, server: Any = None, only: frozenset[str] | None = None,
        worker_python: str | None = None) -> dict[str, Any]:
    """Run the benchmarks; the figures as a dict.

    ``quick`` uses tiny sizes (a smoke run); ``server`` is a PostgreSQL server to use
    (anything with ``create_database`` / ``drop_database``), else a private one starts;
    ``only`` the numbers of the benchmarks to run (default: all); ``worker_python`` an
    interpreter to run benchmark 4 again with (its workers and floor).
    """
    wanted = frozenset(BENCHMARKS) if only is None else only
    sizes = dict(
        login_rounds=1 if quick else 7, login_seconds=0.05 if quick else 1.5,
        sso_rounds=1 if quick else 5, sso_logins=2 if quick else 40,
        small=50 if quick else 1_000, large=500 if quick else 1_000_000,
        samples=20 if quick else 10_000, memory_requests=20 if quick else 3000)
    results: dict[str, Any] = {"machine": machine(), "quick": quick}
    given = nullcontext(server) if server is not None else PostgreSQLServer()
    with given as server, BitbucketEmulator() as emulator:
        bin_dir = getattr(server, "bin_dir", None)
        results["machine"]["postgresql"] = bin_dir.parent.name if bin_dir else "external"
        emulator.add_client(CLIENT_ID, CLIENT_SECRET,
                            callback_url=f"{SITE}/login/bitbucket/callback")
        emulator.current_user = emulator.add_user(
            "Ada Lovelace", nickname="ada",
            emails=[{"email": "ada@example.org", "is_primary": True, "is_confirmed": True}])
        if "1" in wanted:
            with tempfile.TemporaryDirectory() as folder, running_site(
                    f"sqlite:///{folder}/demo.sqlite", emulator, ini="development.ini") as site:
                results["login_page_development"] = bench_login_page(
                    site, rounds=sizes["login_rounds"], seconds=sizes["login_seconds"])
                report_one("login_page_development", results["login_page_development"])
        if wanted & {"1", "2"}:
            url = server.create_database("bench_site")
            with running_site(url, emulator) as site, running_site(
                    url, emulator, publish=False,
                    **{"cms_social_login.published_max_age": "0"}) as checking_site:
                if "1" in wanted:
                    results["login_page"] = bench_login_page(
                        site, checking_site, rounds=sizes["login_rounds"],
                        seconds=sizes["login_seconds"])
                    report_one("login_page", results["login_page"])
                if "2" in wanted:
                    results["sso_login"] = bench_sso_login(
                        site, emulator, rounds=sizes["sso_rounds"], logins=sizes["sso_logins"],
                        floor=floor_sso_site(url, emulator))
                    report_one("sso_login", results["sso_login"])
            server.drop_database("bench_site")
        if "3" in wanted:
            results["identity_lookup"] = bench_identity_lookup(
                server, small=sizes["small"], large=sizes["large"], samples=sizes["samples"])
            report_one("identity_lookup", results["identity_lookup"])
        if "5" in wanted:
            results["growth"] = bench_growth(
                server, emulator, sizes={"small": (100, 1), "large": (
                    (2_000, 10) if quick else (100_000, 100))},
                samples=6 if quick else 150)
            report_one("growth", results["growth"])
        if "4" in wanted:
            results["worker_memory"] = bench_worker_memory(
                server, emulator, requests_count=sizes["memory_requests"],
                clients=2 if quick else 8, floor=True)
            report_one("worker_memory", results["worker_memory"])
            if worker_python:
                results["worker_memory_other_python"] = bench_worker_memory(
                    server, emulator, requests_count=sizes["memory_requests"],
                    clients=2 if quick else 8, floor=True, python=worker_python)
                report_one("worker_memory", results["worker_memory_other_python"])
            results["memory_per_provider"] = bench_memory_per_provider(
                server, emulator, requests_count=20 if quick else 600)
            report_one("memory_per_provider", results["memory_per_provider"])
        if "7" in wanted:
            results["concurrent_logins"] = bench_concurrent_logins(
                server, emulator, logins=20 if quick else 200,
                same_account=5 if quick else 20)
            report_one("concurrent_logins", results["concurrent_logins"])
        if "6" in wanted:
            results["many_sites"] = bench_many_sites(
                server, emulator, sites=200 if quick else 10_000,
                cache_sizes=(200, 50) if quick else (10_000, 1000),
                rounds=sizes["login_rounds"], seconds=sizes["login_seconds"])
            report_one("many_sites", results["many_sites"])
    return results


def verdict(ratio: float, target: float, higher_is_better: bool = True) -> str:
    held = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return f"target {sign} {target}: {'holds' if held else 'MISSED'}"


def report_one(name: str, figures: dict[str, Any]) -> None:
    """Print one benchmark's lines as soon as it is done."""
    if name in ("login_page", "login_page_development"):
        where = ("development.ini, SQLite" if name == "login_page_development"
                 else "production.ini, PostgreSQL")
        number = "1a" if name == "login_page_development" else "1b"
        print(f"{number}. GET /login (Bitbucket published, {where}): "
              f"{figures['site_rps']:.0f} req/s with a cookie jar, "
              f"{figures['first_time_rps']:.0f} req/s first-time visitor; bare "
              f"Pyramid+Jinja2 {figures['bare_rps']:.0f} req/s ({figures['html_bytes']} bytes)"
              f" -> ratio {figures['ratio']:.2f} / {figures['first_time_ratio']:.2f} "
              f"({verdict(min(figures['ratio'], figures['first_time_ratio']), figures['target'])}"
              f"; Set-Cookie on an anonymous GET: {'yes' if figures['set_cookie'] else 'no'})",
              flush=True)
        print(f"    per CPU second (the same requests, what other programs take from the "
              f"wall clock left out): ratio {figures['cpu_ratio']:.2f} / "
              f"{figures['first_time_cpu_ratio']:.2f}", flush=True)
        if "checking_rps" in figures:
            print(f"    with published_max_age = 0 (the version read on every request): "
                  f"{figures['checking_rps']:.0f} req/s -> ratio "
                  f"{figures['checking_ratio']:.2f}", flush=True)
    elif name == "sso_login":
        print(f"2. SSO login via the site: {figures['site_logins_per_s']:.1f} logins/s vs "
              f"bare client {figures['bare_logins_per_s']:.1f} logins/s "
              f"(calls: authorize, consent, {', '.join(figures['api_calls'])}) -> ratio "
              f"{figures['ratio']:.2f} ({verdict(figures['ratio'], figures['target'])})",
              flush=True)
        if "floor_logins_per_s" in figures:
            print(f"   the stack's floor (benchmarks/floor_sso.py: the same login and writes "
                  f"on a bare Pyramid + pyramid_tm + SQLAlchemy + psycopg app): "
                  f"{figures['floor_logins_per_s']:.1f} logins/s -> floor vs bare client "
                  f"{figures['floor_ratio']:.2f}; the site vs the floor "
                  f"{figures['site_vs_floor']:.2f}", flush=True)
    elif name == "identity_lookup":
        n = figures["identities"]
        print(f"3. identity lookup p50 ({figures['samples']:,} lookups each, one on each "
              f"database in turn): {figures['p50_ms']['small']:.3f} ms with "
              f"{n['small']:,} vs {figures['p50_ms']['large']:.3f} ms with {n['large']:,} "
              f"identities (p99 {figures['p99_ms']['small']:.3f} / "
              f"{figures['p99_ms']['large']:.3f} ms; setup {figures['setup_s']['large']:.1f}"
              f" s) -> ratio {figures['ratio']:.2f} "
              f"({verdict(figures['ratio'], figures['target'], higher_is_better=False)})",
              flush=True)
        print(f"   the ratio in each of {len(figures['part_ratios'])} consecutive shares of "
              f"the samples: "
              f"{', '.join(f'{r:.2f}' for r in figures['part_ratios'])}", flush=True)
        print(f"   plan: {figures['plan']}", flush=True)
    elif name == "growth":
        small, large = figures["sizes"]["small"], figures["sizes"]["large"]
        audit, history = figures["audit"], figures["history"]
        print(f"5. audit page p50 (filtered: Bitbucket sign-ins that worked, 30 days; both "
              f"first pages list {figures['audit_rows_shown']['large']} events): "
              f"{audit['p50_ms']['small']:.1f} ms with {small[0]:,} rows vs "
              f"{audit['p50_ms']['large']:.1f} ms with {large[0]:,} -> ratio "
              f"{audit['ratio']:.2f} ({verdict(audit['ratio'], audit['target'], False)})",
              flush=True)
        print(f"   history page p50: {history['p50_ms']['small']:.1f} ms with {small[1]} "
              f"published version(s) vs {history['p50_ms']['large']:.1f} ms with {large[1]}"
              f" -> ratio {history['ratio']:.2f} "
              f"({verdict(history['ratio'], history['target'], False)})", flush=True)
    elif name == "worker_memory":
        other = "" if figures["python"] == sys.executable else f", run by {figures['python']}"
        print(f"4. worker peak RSS (VmHWM) serving /login{other}: "
              f"{figures['peak_rss_mib']:.1f} MiB "
              f"after {figures['requests']} requests from {figures['clients']} clients "
              f"(VmRSS now {figures['rss_now_mib']:.1f} MiB; after start VmHWM "
              f"{figures['rss_after_start_mib']:.1f} / VmRSS "
              f"{figures['rss_now_after_start_mib']:.1f} MiB; "
              f"{figures['http_rps']:.0f} req/s over HTTP)", flush=True)
        if "floor" in figures:
            floor = figures["floor"]
            print(f"    the stack's floor (benchmarks/floor_app.py: the same page from a bare "
                  f"Pyramid + Jinja2 + pyramid_tm/retry + SQLAlchemy ORM + psycopg app, same "
                  f"server and load): {floor['peak_rss_mib']:.1f} MiB (after start "
                  f"{floor['rss_after_start_mib']:.1f}) -> the add-on's excess "
                  f"{figures['peak_rss_mib'] - floor['peak_rss_mib']:.1f} MiB "
                  f"(target <= 60 MiB in all: "
                  f"{'holds' if figures['peak_rss_mib'] <= 60 else 'MISSED'})", flush=True)
    elif name == "memory_per_provider":
        one, many = figures["peak_rss_mib"]
        print(f"4b. worker peak RSS with {figures['providers'][0]} / "
              f"{figures['providers'][1]} OpenID Connect providers: {one:.1f} / {many:.1f} MiB"
              f" after {figures['requests']} requests -> "
              f"{figures['per_provider_mib']:.2f} MiB per provider (target <= 0.5)",
              flush=True)
    elif name == "concurrent_logins":
        same = figures["same"]
        held = (figures["server_errors"] == 0 and same["server_errors"] == 0
                and not figures["no_answer"] and figures["signed_in"] == figures["logins"]
                and same["signed_in"] == figures["same_account"]
                and figures["same_users"] == 1 and figures["same_identities"] == 1)
        print(f"7. {figures['logins']} first logins at once over two pserve production.ini "
              f"workers (PostgreSQL): {figures['signed_in']} signed in, "
              f"{figures['server_errors']} 5xx, {figures['no_answer']} without an answer "
              f"{figures['no_answer_example']}; start p50 {figures['begin_p50_s'] * 1000:.0f}"
              f" / p99 {figures['begin_p99_s'] * 1000:.0f} ms, callback p50 "
              f"{figures['callback_p50_s'] * 1000:.0f} / p99 "
              f"{figures['callback_p99_s'] * 1000:.0f} ms", flush=True)
        print(f"   one Bitbucket account from {figures['same_account']} browsers at once: "
              f"{same['signed_in']} signed in, {same['server_errors']} 5xx, callback p50 "
              f"{same['callback_p50_s'] * 1000:.0f} / p99 {same['callback_p99_s'] * 1000:.0f}"
              f" ms -> {figures['same_users']} local user(s), {figures['same_identities']} "
              f"identity row(s) (target: no 5xx, everyone signed in, one user: "
              f"{'holds' if held else 'MISSED'})", flush=True)
    elif name == "many_sites":
        for index, run in enumerate([figures, *figures["smaller_caches"]]):
            label = ("every site cached" if run["miss_share"] == 0 else
                     f"only {run['cache_size']:,} cached: {run['miss_share']:.0%} of the "
                     f"requests miss the cache")
            print(f"{'6.' if index == 0 else '  '} GET /login for a random one of "
                  f"{run['sites']:,} sites, site_cache_size {run['cache_size']:,} ({label}): "
                  f"{run['many_rps']:.0f} req/s vs single site {run['single_rps']:.0f} req/s "
                  f"-> cost ratio {run['cost_ratio']:.2f} "
                  f"({verdict(run['cost_ratio'], run['target'], higher_is_better=False)})",
                  flush=True)
            print(f"   worker memory of the caches (tracemalloc, {run['measured_sites']:,} "
                  f"sites served once in a fresh worker: snapshots, rendered pages, "
                  f"entries): {run['cache_bytes_per_site']:.0f} bytes per site, "
                  f"{run['cache_mib']:.1f} MiB in all; {run['cached_sites']:,} sites held "
                  f"after the run", flush=True)
        print(f"   (setup {figures['setup_s']:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--only", type=parse_only, metavar="N[,N]",
                        help="run only these benchmarks (numbers 1-7; 1 is 1a and 1b, 4 is "
                             "4 and 4b)")
    parser.add_argument("--worker-python", metavar="PYTHON",
                        help="also run benchmark 4 with this interpreter, e.g. of a "
                             "virtualenv holding only the runtime dependencies "
                             "(python -m venv V && V/bin/pip install . 'psycopg[binary]')")
    args = parser.parse_args(argv)
    info = machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: nproc={info['nproc']}, CPU {info['cpu']}, Python {info['python']}, "
          f"load average {load:.2f} at start", flush=True)
    quiet_logging()
    started = time.perf_counter()
    results = run(quick=args.quick, only=args.only, worker_python=args.worker_python)
    results["seconds"] = time.perf_counter() - started
    results["load_average"] = {"start": load, "end": os.getloadavg()[0]}
    print(f"PostgreSQL {results['machine']['postgresql']}; total {results['seconds']:.0f} s; "
          f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
