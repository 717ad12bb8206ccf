"""``cms-social-login-emulator``: a site owner runs an emulator next to the site, pastes
what it prints, and the whole login works without a real Bitbucket account."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests

from cms_social_login.models import get_social_login_engine
from cms_social_login.scripts.emulator import READY
from cms_social_login.testing import steps
from cms_social_login.testing.steps import fill_tab, make_browser, sign_in

from .helpers import callback_path, start_login


def read_until_ready(process: subprocess.Popen, seconds: float = 30) -> str:
    """What the command printed up to its READY line (bounded in time)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    printed, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        printed.append(line)
        if line.strip() == READY:
            return "".join(printed)
    process.kill()
    pytest.fail("the emulator did not get ready:\n" + "".join(printed))


@contextmanager
def running_emulator(*sites: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``cms-social-login-emulator --provider bitbucket --site SITE ...``, running; the
    process and what it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cms_social_login.scripts.emulator", "--provider", "bitbucket",
         *(arg for site in sites for arg in ("--site", site))],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield process, read_until_ready(process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) == 0  # SIGTERM stops it cleanly
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            raise


@pytest.fixture
def emulator_command():
    """``cms-social-login-emulator --provider bitbucket --site http://localhost``, running."""
    with running_emulator("http://localhost") as running:
        yield running


class ConsentForm(HTMLParser):
    """The hidden fields and action of the emulator's consent page."""

    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action") or ""
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value") or ""


def grant_at_the_emulator(authorize_url: str) -> str:
    """Be the visitor's browser at the consent page: press Grant access."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    form = ConsentForm()
    form.feed(page.text)
    answer = requests.post(urljoin(authorize_url, form.action),
                           data={**form.fields, "decision": "grant"},
                           allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def test_a_site_pointed_at_the_printed_settings_signs_a_visitor_in(emulator_command,
                                                                  app_settings):
    process, printed = emulator_command
    settings = dict(re.findall(r"^\s+(cms_social_login\.[\w.]+) = (\S+)$", printed,
                               re.MULTILINE))
    assert sorted(settings) == ["cms_social_login.allow_private_provider_urls",
                                "cms_social_login.bitbucket.api_url",
                                "cms_social_login.bitbucket.authorize_url",
                                "cms_social_login.bitbucket.token_url"]
    assert settings.pop("cms_social_login.allow_private_provider_urls") == "true"
    assert all(value.startswith("http://127.0.0.1:") for value in settings.values())
    assert "export CMS_SOCIAL_LOGIN_BITBUCKET_TOKEN_URL=" in printed
    assert "export CMS_SOCIAL_LOGIN_ALLOW_PRIVATE_PROVIDER_URLS=true" in printed
    client_id = re.search(r"Bitbucket Client ID: (\S+)", printed).group(1)
    client_secret = re.search(r"Bitbucket Client Secret: (\S+)", printed).group(1)

    from cms_demo import main

    # A site that has only what was printed: loopback calls are refused unless allowed.
    host_settings = {key: value for key, value in app_settings.items()
                     if key != "cms_social_login.allow_private_provider_urls"}
    settings["cms_social_login.allow_private_provider_urls"] = "true"
    app = main({}, **{**host_settings, **settings})
    try:
        editor, visitor = make_browser(app), make_browser(app)
        sign_in(editor)
        fill_tab(editor, "bitbucket", {"client_id": client_id, "client_secret": client_secret},
                 "save").follow()
        location = grant_at_the_emulator(start_login(visitor, came_from="/"))
        home = visitor.get(callback_path(location)).follow()
        assert "Signed in as" in home.text and "Test Visitor" in home.text
    finally:
        get_social_login_engine(app.registry).dispose()
    assert process.poll() is None  # still serving until stopped


def test_one_emulator_gives_each_site_of_a_deployment_its_own_client(app_settings):
    """README, "Many sites": the provider's URLs are the deployment's, so two sites try
    their own consumers with one emulator, ``--site`` given once per site."""
    import webtest

    from cms_demo import main

    sites = {"site-a.localhost": "editor-a", "site-b.localhost": "editor-b"}
    with running_emulator(*(f"http://{host}" for host in sites)) as (process, printed):
        settings = dict(re.findall(r"^\s+(cms_social_login\.[\w.]+) = (\S+)$", printed,
                                   re.MULTILINE))
        tabs = {host: dict(re.findall(r"Bitbucket (Client ID|Client Secret): (\S+)", part))
                for host, part in re.findall(r"tab of http://(\S+) \(callback URL [^)]*\):"
                                             r"\n((?:    .*\n?)+)", printed)}
        assert set(tabs) == set(sites)
        assert tabs["site-a.localhost"]["Client ID"] != tabs["site-b.localhost"]["Client ID"]
        app = main({}, **{**app_settings, **settings, "cms_demo.site_editors": "true"})
        try:
            for host, editor_name in sites.items():
                editor = webtest.TestApp(app, extra_environ={"HTTP_HOST": host})
                sign_in(editor, editor_name, editor_name)
                fill_tab(editor, "bitbucket", {"client_id": tabs[host]["Client ID"],
                                               "client_secret": tabs[host]["Client Secret"]},
                         "save").follow()
            for host in sites:
                visitor = webtest.TestApp(app, extra_environ={"HTTP_HOST": host})
                authorize_url = steps.start_login(visitor, "bitbucket")
                assert steps.query_of(authorize_url)["client_id"] == tabs[host]["Client ID"]
                back = grant_at_the_emulator(authorize_url)
                assert back.startswith(f"http://{host}/login/bitbucket/callback?")
                home = visitor.get(back.removeprefix(f"http://{host}")).follow()
                assert "Signed in as" in home.text and "Test Visitor" in home.text
        finally:
            app.registry["cms_social_login.dbsession_factory"].kw["bind"].dispose()
        assert process.poll() is None
