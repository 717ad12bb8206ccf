"""Many processes, one site: two waitress workers started from production.ini share one
PostgreSQL database and behave as one site.

The browsers are ``requests.Session`` objects. The workers sit on two 127.0.0.1 ports
and both believe the site is ``http://localhost`` (``CMS_SOCIAL_LOGIN_SITE_URL``, as
behind a load balancer), so Bitbucket sends the visitor back to that address and the
test chooses which worker gets the request.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, func, select

from cms_demo.bootstrap import create_editor
from cms_demo.models import User
from cms_social_login.models import (
    PUBLISHED,
    LinkedIdentity,
    LoginSettings,
    PublishRecord,
    get_session_factory,
)
from cms_social_login.testing.postgresql import free_port

from ..helpers import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, SITE

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_INI = ROOT / "production.ini"
EDITORS = {"alice": "alice-password-1", "bob": "bob-password-22"}
CONFLICT = "Someone else changed these settings since you opened them"


class Worker:
    """One ``pserve production.ini`` process on 127.0.0.1:``port``."""

    def __init__(self, name: str, port: int, env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = logdir / f"worker-{name}.log"
        self._logfile = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pyramid.scripts.pserve", str(PRODUCTION_INI),
             f"http_port={port}"],
            env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=self._logfile,
            stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        """The URL of ``path`` (or of a ``http://localhost/...`` site URL) on this worker."""
        if path.startswith(SITE):
            path = path[len(SITE):]
        return self.base + path

    def wait_ready(self, timeout: float = 60) -> bool:
        """Wait until ``/login`` answers; False if the port was taken meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self.output():
                    return False
                pytest.fail(f"worker {self.name} exited: {self.output()}")
            try:
                if requests.get(self.url("/login"), timeout=2).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        pytest.fail(f"worker {self.name} did not answer in {timeout}s: {self.output()}")

    def output(self) -> str:
        self._logfile.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._logfile.close()


@pytest.fixture(scope="module")
def site(postgresql_server, bitbucket_server, tmp_path_factory):
    """Workers A and B on one new PostgreSQL database, with two editor accounts."""
    url = postgresql_server.create_database("many_processes")
    env = {
        **os.environ,
        "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL": url,
        "CMS_SOCIAL_LOGIN_SECRET_KEY": SECRET_KEY,
        "CMS_SOCIAL_LOGIN_SITE_URL": SITE,
        "CMS_SOCIAL_LOGIN_HTTP_TIMEOUT": "5",
        "CMS_SOCIAL_LOGIN_BITBUCKET_AUTHORIZE_URL": bitbucket_server.authorize_url,
        "CMS_SOCIAL_LOGIN_BITBUCKET_TOKEN_URL": bitbucket_server.token_url,
        "CMS_SOCIAL_LOGIN_BITBUCKET_API_URL": bitbucket_server.api_url,
        # The emulator runs on loopback, which production's address policy refuses.
        "CMS_SOCIAL_LOGIN_ALLOW_PRIVATE_PROVIDER_URLS": "true",
    }
    logdir = tmp_path_factory.mktemp("workers")
    # Both start on the empty database at once: their first-start migrations take turns.
    workers = [Worker(name, free_port(), env, logdir) for name in ("A", "B")]
    engine = create_engine(url)
    try:
        for index, worker in enumerate(workers):
            for _ in range(3):  # another program may take the free port before the worker
                if workers[index].wait_ready():
                    break
                workers[index].stop()
                workers[index] = Worker(worker.name, free_port(), env, logdir)
            else:
                pytest.fail(f"worker {worker.name}: no free port after 3 tries")
        factory = get_session_factory(engine)
        for username, password in EDITORS.items():
            create_editor(factory, username, password, display_name=username.title())
        yield {"A": workers[0], "B": workers[1], "engine": engine}
    finally:
        for worker in workers:
            worker.stop()
        engine.dispose()
        postgresql_server.drop_database("many_processes")


def login_form(html: str, form_id: str | None = None, action_path: str | None = None
               ) -> list[tuple[str, str]]:
    """The fields a browser would submit from a form of ``html`` (no button pressed)."""
    soup = BeautifulSoup(html, "html.parser")
    if form_id:
        form = soup.find("form", id=form_id)
    else:
        form = next(f for f in soup.find_all("form") if (f.get("action") or "").endswith(
            action_path or ""))
    assert form is not None, html[:2000]
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
            fields.append((name, element.get("value", "on" if kind == "checkbox" else "")))
        elif element.name == "select":
            chosen = element.find("option", selected=True) or element.find("option")
            if chosen is not None:
                fields.append((name, chosen.get("value", chosen.get_text())))
        else:
            fields.append((name, element.get_text()))
    return fields


def sign_in(worker: Worker, username: str) -> requests.Session:
    """A browser signed in with the password form on ``worker``."""
    browser = requests.Session()
    page = browser.get(worker.url("/login"), timeout=10)
    fields = dict(login_form(page.text, action_path="/login"))
    fields.update(login=username, password=EDITORS[username])
    response = browser.post(worker.url("/login"), data=fields, allow_redirects=False,
                            timeout=10)
    assert response.status_code == 303, response.text[:2000]
    return browser


def open_settings(browser: requests.Session, worker: Worker) -> list[tuple[str, str]]:
    """Open the Bitbucket tab of the Login setting dialog; the form's fields."""
    page = browser.get(worker.url("/editor/system-pages/login/settings?tab=bitbucket"),
                       timeout=10)
    assert page.status_code == 200, page.text[:2000]
    return login_form(page.text, form_id="login-settings-form")


def fill(fields: list[tuple[str, str]], values: dict[str, str | None]) -> list[tuple[str, str]]:
    """``fields`` with ``values`` set (None unticks a checkbox)."""
    kept = [(name, value) for name, value in fields if name not in values]
    return kept + [(name, value) for name, value in values.items() if value is not None]


def press(browser: requests.Session, worker: Worker, fields: list[tuple[str, str]],
          action: str) -> requests.Response:
    return browser.post(worker.url("/editor/system-pages/login/settings"),
                        data=[*fields, ("action", action)], allow_redirects=False, timeout=30)


def has_button(worker: Worker, browser: requests.Session | None = None) -> bool:
    page = (browser or requests).get(worker.url("/login"), timeout=10)
    assert page.status_code == 200
    return "Log in with Bitbucket" in page.text


def bitbucket_values(enabled: bool, client_id: str = CLIENT_ID,
                     client_secret: str = CLIENT_SECRET) -> dict[str, str | None]:
    return {"bitbucket.enabled": "on" if enabled else None,
            "bitbucket.client_id": client_id, "bitbucket.client_secret": client_secret}


def publish(worker: Worker, username: str, enabled: bool = True) -> None:
    editor = sign_in(worker, username)
    fields = fill(open_settings(editor, worker), bitbucket_values(enabled))
    response = press(editor, worker, fields, "save")
    assert response.status_code == 303, response.text[:3000]


def published_client_id(site) -> str | None:
    factory = get_session_factory(site["engine"])
    with factory() as db:
        record = db.get(LoginSettings, ("default", PUBLISHED))
        return record.document["bitbucket"]["values"].get("client_id") if record else None


def test_both_workers_started_on_one_migrated_database(site):
    from cms_social_login.migrations import current_revision, head_revision

    assert current_revision(site["engine"]) == head_revision()
    for worker in (site["A"], site["B"]):
        assert worker.process.poll() is None
        assert "Starting server" in worker.output()
        assert "Traceback" not in worker.output()


def seconds_until(worker: Worker, shown: bool) -> float:
    """How long after now ``worker``'s login page shows the button as ``shown`` (asked
    every 50 ms, for at most 5 s)."""
    start = time.monotonic()
    for _ in range(100):
        if has_button(worker) == shown:
            return time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"worker {worker.name} still shows the old settings after 5 s")


def test_a_save_on_one_worker_is_live_on_the_other_within_a_second(site):
    a, b = site["A"], site["B"]
    publish(a, "alice", enabled=False)
    assert seconds_until(b, shown=False) <= 1  # B has now cached the published settings
    assert not has_button(a)  # the saving worker: at its very next request

    editor = sign_in(a, "alice")
    response = press(editor, a, fill(open_settings(editor, a), bitbucket_values(True)),
                     "save")
    assert response.status_code == 303
    assert has_button(a)
    # B trusts its cached copy for published_max_age (0.5 s), then reads the version.
    assert seconds_until(b, shown=True) <= 1

    other = sign_in(b, "bob")
    response = press(other, b, fill(open_settings(other, b), bitbucket_values(False)),
                     "save")
    assert response.status_code == 303
    assert not has_button(b)
    assert seconds_until(a, shown=False) <= 1


def test_a_login_started_on_one_worker_finishes_on_the_other(site, bitbucket,
                                                           bitbucket_user):
    a, b = site["A"], site["B"]
    publish(a, "alice", enabled=True)
    assert seconds_until(b, shown=True) <= 1  # the Save is live on B within the bound
    visitor = requests.Session()
    assert has_button(a, visitor)
    start = visitor.get(a.url("/login/bitbucket?came_from=/"), allow_redirects=False,
                        timeout=10)
    assert start.status_code == 302
    authorize = start.headers["Location"]
    assert authorize.startswith(bitbucket.authorize_url)
    back = bitbucket.approve(authorize)
    assert urlsplit(back).path == "/login/bitbucket/callback"
    done = visitor.get(b.url(back), allow_redirects=False, timeout=10)
    assert done.status_code == 303, done.text[:3000]
    assert urlsplit(done.headers["Location"]).path == "/", done.headers["Location"]
    home = visitor.get(a.url("/"), timeout=10)
    assert "Signed in as" in home.text and "Ada Lovelace" in home.text
    assert "Ada Lovelace" in visitor.get(b.url("/"), timeout=10).text


def save_at_once(saves: dict[str, tuple[requests.Session, Worker, list[tuple[str, str]]]]
                 ) -> dict[str, requests.Response]:
    """Press Save in every browser at the same moment (threads behind a barrier)."""
    barrier = threading.Barrier(len(saves))
    results: dict[str, requests.Response] = {}

    def save(name: str) -> None:
        browser, worker, fields = saves[name]
        barrier.wait()
        results[name] = press(browser, worker, fields, "save")

    threads = [threading.Thread(target=save, args=(name,)) for name in saves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_editors_saving_at_once_lose_nothing_silently(site):
    a, b = site["A"], site["B"]
    publish(a, "alice", enabled=True)
    alice, bob = sign_in(a, "alice"), sign_in(b, "bob")
    for round_number in range(3):
        forms = {"alice": open_settings(alice, a), "bob": open_settings(bob, b)}
        wanted = {name: f"{name}Client{round_number}xyz0123" for name in forms}
        factory = get_session_factory(site["engine"])
        with factory() as db:
            saves_before = db.scalar(select(func.count()).select_from(PublishRecord))
        results = save_at_once({
            "alice": (alice, a, fill(forms["alice"], bitbucket_values(True, wanted["alice"]))),
            "bob": (bob, b, fill(forms["bob"], bitbucket_values(True, wanted["bob"]))),
        })
        statuses = sorted(response.status_code for response in results.values())
        assert statuses == [303, 409], {n: r.status_code for n, r in results.items()}
        winner = next(n for n, r in results.items() if r.status_code == 303)
        loser = next(n for n, r in results.items() if r.status_code == 409)
        # The loser is told, and their form comes back with what they typed.
        assert CONFLICT in results[loser].text
        assert wanted[loser] in results[loser].text
        # The winner's values are live on both workers; exactly one Save was recorded.
        assert published_client_id(site) == wanted[winner]
        with factory() as db:
            assert db.scalar(select(func.count()).select_from(PublishRecord)) == \
                saves_before + 1
        for worker in (a, b):
            page = alice.get(worker.url("/editor/system-pages/login/settings?tab=bitbucket"),
                             timeout=10)
            assert wanted[winner] in page.text and wanted[loser] not in page.text


def test_one_account_signing_in_from_twenty_browsers_at_once_is_one_user(site, bitbucket):
    a, b = site["A"], site["B"]
    publish(a, "alice", enabled=True)
    assert seconds_until(b, shown=True) <= 1
    grace = bitbucket.add_user("Grace Hopper", nickname="grace", emails=[
        {"email": "grace@example.org", "is_primary": True, "is_confirmed": True}])
    # Twenty browsers start a first login of the same Bitbucket account, half on each
    # worker, and approve it at Bitbucket ...
    browsers = [requests.Session() for _ in range(20)]
    callbacks = []
    for number, browser in enumerate(browsers):
        start = browser.get((a, b)[number % 2].url("/login/bitbucket?came_from=/"),
                            allow_redirects=False, timeout=10)
        assert start.status_code == 302
        callbacks.append(bitbucket.approve(start.headers["Location"], user=grace))
    # ... and come back at the same moment, each to the other worker.
    barrier = threading.Barrier(len(browsers))
    answers: dict[int, requests.Response] = {}

    def come_back(number: int) -> None:
        barrier.wait(timeout=30)
        answers[number] = browsers[number].get((b, a)[number % 2].url(callbacks[number]),
                                               allow_redirects=False, timeout=60)

    threads = [threading.Thread(target=come_back, args=(n,)) for n in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == list(range(len(browsers)))
    for answer in answers.values():
        assert answer.status_code == 303, answer.text[:2000]
        assert urlsplit(answer.headers["Location"]).path == "/", answer.headers["Location"]
    # One local account and one linked identity, and every browser is signed in to it.
    with get_session_factory(site["engine"])() as db:
        identities = db.scalars(select(LinkedIdentity).where(
            LinkedIdentity.display_name == "Grace Hopper")).all()
        users = db.scalars(select(User).where(User.display_name == "Grace Hopper")).all()
    assert len(identities) == 1 and len(users) == 1
    assert identities[0].userid == str(users[0].id)
    for number, browser in enumerate(browsers):
        assert "Grace Hopper" in browser.get(a.url("/"), timeout=10).text, number
