"""Outbound calls have a total deadline, and a slow provider holds a bounded number of
threads: ``/login`` keeps answering while a provider hangs (issue 12, item 5)."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time

import pytest
import requests
from webtest.http import StopableWSGIServer

from cms_social_login.http import SLOT_PATIENCE, HttpClient, UrlPolicy
from cms_social_login.models import get_social_login_engine
from cms_social_login.providers.errors import ProviderBusy, ProviderError
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import fill_tab, make_browser, sign_in

from .helpers import TrickleServer


def loopback_client(timeout: float, **options) -> HttpClient:
    """A client the operator's policy lets call the trickling servers on 127.0.0.1."""
    return HttpClient("Bitbucket", timeout=timeout, policy=UrlPolicy(allow_private=True),
                      **options)


def timed_call(client: HttpClient, url: str) -> tuple[float, Exception | None]:
    started = time.monotonic()
    try:
        client.request_json("GET", url)
    except ProviderError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize("mode", ["body", "headers", "silent"])
def test_a_trickling_provider_is_cut_at_the_deadline(mode):
    """One byte every 0.9 s used to hold a call for as long as the server kept going
    (the timeout was per read, and no read waits as long as it); now http_timeout = 1 is
    the whole call's budget, the last read's wait included: a read that waited its own
    timeout past the deadline would end the call at the second byte, 1.8 s."""
    client = loopback_client(1)
    with TrickleServer(mode, interval=0.9, lifetime=20) as server:
        elapsed, error = timed_call(client, server.url + "/2.0/user")
    assert isinstance(error, ProviderError)
    assert "We could not reach Bitbucket" in str(error.message.interpolate())
    assert 0.9 <= elapsed < 1.5


def test_a_cut_body_frees_the_providers_slot():
    client = loopback_client(1, max_concurrent=1)
    with TrickleServer("body", interval=0.5, lifetime=20) as slow, \
            TrickleServer("json", interval=0) as healthy:
        elapsed, error = timed_call(client, slow.url)
        assert error is not None and elapsed < 2
        # The call ended at the deadline in the caller's thread and gave its slot back
        # then: the next call gets it at once, though the slow server would go on for 20 s.
        _elapsed, error = timed_call(client, healthy.url)
        assert error is None


def test_a_name_whose_lookup_hangs_is_cut_at_the_deadline(monkeypatch):
    """The resolver keeps no deadline: a lookup that hangs (a dead DNS server) ends the
    call at its budget all the same (the name never reaches a real resolver: the lookup
    is held until the test ends)."""
    real = socket.getaddrinfo
    release = threading.Event()

    def hanging(host, *args, **kwargs):
        numeric_only = kwargs.get("flags", 0) & socket.AI_NUMERICHOST  # never asks DNS
        if host == "provider.example" and not numeric_only:
            release.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    client = HttpClient("Bitbucket", timeout=1, max_concurrent=1)
    try:
        elapsed, error = timed_call(client, "https://provider.example/2.0/user")
    finally:
        release.set()
    assert isinstance(error, ProviderError) and not isinstance(error, ProviderBusy)
    assert 0.9 <= elapsed < 1.5


def test_calls_beyond_the_limit_are_refused_once_the_calls_in_flight_are_slow():
    # The two calls in flight hang until their 2.5 s deadline: the refusals below come
    # after 1 s (SLOT_PATIENCE) and at once, both while those two still hold the slots.
    client = loopback_client(2.5, max_concurrent=2)
    with TrickleServer("silent", lifetime=10) as server, \
            concurrent.futures.ThreadPoolExecutor(2) as pool:
        hung = [pool.submit(timed_call, client, server.url) for _ in range(2)]
        assert server.wait_for_connections(2)
        elapsed, error = timed_call(client, server.url)  # waits until they are 1 s old
        assert isinstance(error, ProviderBusy)
        assert elapsed < 1.5
        assert str(error.message.interpolate()) == (
            "Bitbucket is slow to answer right now; please try again in a moment.")
        elapsed, error = timed_call(client, server.url)  # known slow now: at once
        assert isinstance(error, ProviderBusy)
        assert elapsed < 0.5
        assert all(isinstance(future.result(timeout=10)[1], ProviderError) for future in hung)
    assert server.connections == 2  # the refused calls never reached the provider


def test_a_burst_at_a_healthy_provider_waits_for_a_slot():
    client = loopback_client(4, max_concurrent=1)
    with TrickleServer("json", interval=0.05) as server, \
            concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = [f.result(timeout=10) for f in
                   [pool.submit(timed_call, client, server.url) for _ in range(6)]]
    assert [error for _elapsed, error in results] == [None] * 6
    assert server.connections == 6


def test_the_limit_holds_across_threads_of_one_process():
    client = loopback_client(2, max_concurrent=3)
    with TrickleServer("silent", lifetime=10) as server, \
            concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = [f.result(timeout=10) for f in
                   [pool.submit(timed_call, client, server.url) for _ in range(8)]]
    busy = [error for _elapsed, error in results if isinstance(error, ProviderBusy)]
    assert len(busy) == 5
    assert server.connections == 3


# --------------------------------------------------------------------------- the whole site


#: The site's http_timeout below. Short, so the Save and the starts that wait it out are
#: quick; longer than twice SLOT_PATIENCE (1 s), so the starts waitress queues behind its
#: 4 threads still give up on the fetch lock before the hung fetch ends.
DEADLINE = 3


@pytest.fixture
def hung_issuer():
    """An OpenID Connect issuer that accepts connections and never answers."""
    with TrickleServer("silent", lifetime=20) as server:
        yield server


@pytest.fixture
def served_site(app_settings, hung_issuer):
    """The demo site under waitress with 4 threads, its OpenID Connect tab published
    with the hung issuer (discovery happens at every start, so every start calls it)."""
    from cms_demo import main

    settings = {**app_settings, "cms_social_login.http_timeout": str(DEADLINE),
                "cms_social_login.max_concurrent_calls_per_provider": "2"}
    app = main({}, **settings)
    editor = make_browser(app)
    sign_in(editor)
    fill_tab(editor, "oidc", {"issuer": hung_issuer.url, "client_id": KIT_CLIENT_ID,
                              "client_secret": KIT_CLIENT_SECRET}, "save").follow()
    # Save fetched the discovery document (and failed at the deadline); that failure is
    # remembered for a minute. Let it pass, as a minute later, so visitors' starts call.
    get_provider_registry(app.registry).get("oidc").failure_cache.discard(hung_issuer.url)
    server = StopableWSGIServer.create(app, threads=4, host="127.0.0.1")
    assert server.wait()
    try:
        yield server.application_url.rstrip("/")
    finally:
        server.shutdown()
        get_social_login_engine(app.registry).dispose()


def test_login_keeps_answering_while_a_provider_hangs(served_site, hung_issuer):
    def start() -> requests.Response:
        return requests.get(served_site + "/login/oidc", allow_redirects=False, timeout=20)

    at_save = hung_issuer.connections  # the Save's own attempt
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        starts = [pool.submit(start) for _ in range(6)]
        assert hung_issuer.wait_for_connections(at_save + 1)
        began = time.monotonic()
        page = requests.get(served_site + "/login", timeout=20)
        answered_in = time.monotonic() - began
        results = [future.result(timeout=20) for future in starts]
    assert page.status_code == 200
    # Not after the hung call's deadline: at most after the other starts' 1 s wait (the
    # page's request began as the hung call connected, so "< DEADLINE" would also pass a
    # page that waited almost the whole deadline behind it).
    assert answered_in < 2 * SLOT_PATIENCE, answered_in
    assert all(result.status_code < 500 for result in results)
    texts = [result.text for result in results]
    # One start fetches the discovery document (one fetch at a time per issuer) and is
    # cut at the deadline; the other five wait at most 1 s for it, then hear "slow".
    assert sum("slow to answer right now" in text for text in texts) == 5
    assert sum("could not reach" in text for text in texts) == 1
    assert hung_issuer.connections == at_save + 1


def test_a_start_after_the_deadline_ends_by_itself(served_site, hung_issuer):
    began = time.monotonic()
    result = requests.get(served_site + "/login/oidc", allow_redirects=False, timeout=20)
    assert result.status_code < 500 and "could not reach" in result.text
    assert DEADLINE - 0.1 <= time.monotonic() - began < DEADLINE + 2
    # The call ran in the request's thread: no thread of the add-on's is left behind (the
    # issuer is an address, so not even a name lookup's).
    assert not [t for t in threading.enumerate() if t.name.startswith("cms_social_login ")]
