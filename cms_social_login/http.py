"""Outbound HTTP for providers: one pooled session per provider, a deadline on every call,
a limit on calls in flight per provider, bounded bodies."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.util import Timeout

from .i18n import _

log = logging.getLogger(__name__)

#: Bodies larger than this are refused unread (a profile or token answer is a few KiB).
MAX_BODY_BYTES = 1_000_000


class ProviderError(Exception):
    """A provider could not complete a login.

    ``message`` is plain words for the visitor; ``cause`` is the operator's detail for the
    log (never a secret or a token). ``outcome`` names the failure in the audit log:
    ``"error"``, or ``"refused"`` when the provider's account is not allowed here.
    """

    outcome = "error"

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(cause)
        self.message = message
        self.cause = cause


class AccessRestricted(ProviderError):
    """The provider vouched for the visitor, but the site's rules refuse them.

    For example a Bitbucket account that is not a member of a workspace the editor
    allowed. The audit log records it as the outcome "refused".
    """

    outcome = "refused"


class ProviderBusy(ProviderError):
    """This process already has as many calls to the provider in flight as it allows
    (``cms_social_login.max_concurrent_calls_per_provider``) and they are slow."""


class RefreshTokenRejected(ProviderError):
    """The token endpoint refused a refresh token (``invalid_grant``): it expired, was
    revoked, or was already used (providers that rotate refresh tokens)."""


@dataclass
class HttpResponse:
    """What a provider needs of an HTTP answer: the status and the decoded JSON body."""

    status: int
    data: Any
    url: str


#: How long a call waits for a free slot while the calls in flight are young: a burst of
#: logins at a healthy provider queues for a moment; once a call in flight is this old,
#: the provider is slow and calls beyond the limit are refused at once.
SLOT_PATIENCE = 1.0


class CallSlots:
    """The calls in flight to one provider: at most ``limit`` at once.

    A process-local guard of this process's threads, not shared data: DESIGN.md's
    "stateless processes" is about data (sessions, states, settings live in the database);
    each process limits how many of its own threads one provider may hold.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._started: list[float] = []  # monotonic start of each call in flight
        self._changed = threading.Condition()

    def acquire(self, patience: float) -> float | None:
        """A slot (its start time, for :meth:`release`), or None when all ``limit`` are
        taken and stay taken for ``patience`` seconds or the oldest call in flight is
        already that old."""
        with self._changed:
            while len(self._started) >= self.limit:
                wait = min(self._started) + patience - time.monotonic()
                if wait <= 0:
                    return None
                self._changed.wait(wait)
            started = time.monotonic()
            self._started.append(started)
            return started

    def release(self, started: float) -> None:
        """Free the slot taken at ``started``."""
        with self._changed:
            self._started.remove(started)
            self._changed.notify()


class _Call:
    """One outbound call, run in a helper thread: the caller waits for it until the
    deadline and no longer, whatever the server does (a server that trickles a byte now
    and then defeats per-read socket timeouts)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.status = 0
        self.body = b""
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._abandoned = False

    def attach(self, response: requests.Response) -> None:
        """The helper got the answer's headers; the body is read next."""
        with self._lock:
            self._response = response
            abandoned = self._abandoned
        if abandoned:
            _shutdown(response)

    def abandon(self) -> None:
        """The caller stopped waiting: wake a body read blocked on the socket, so the
        helper thread (and its slot) end now too."""
        with self._lock:
            self._abandoned = True
            response = self._response
        if response is not None:
            _shutdown(response)


def _shutdown(response: requests.Response) -> None:
    """Shut down the socket ``response`` reads from (safe from another thread)."""
    try:
        response.raw.shutdown()
    except (ValueError, OSError):  # already back in the pool, or closed: nothing blocks
        pass


class HttpClient:
    """Calls a provider's endpoints over one ``requests.Session`` (connection reuse).

    ``timeout`` seconds is the whole call's budget (connect, send, every read, the body
    included): the call runs in a helper thread, and the caller gets a
    :class:`ProviderError` at the deadline even from a server that trickles its answer.
    At most ``max_concurrent`` calls are in flight at once (a call still counts until its
    helper thread ends); one more waits for a slot while the calls in flight are younger
    than :data:`SLOT_PATIENCE`, and is refused with :class:`ProviderBusy` once they are
    older (at once, while the provider stays slow), so a hung provider holds a bounded
    number of the server's threads. The body is read up to ``max_bytes``; network
    failures and non-JSON bodies become :class:`ProviderError` naming ``provider_title``.
    """

    def __init__(self, provider_title: str, timeout: float,
                 max_bytes: int = MAX_BODY_BYTES, max_concurrent: int = 2) -> None:
        self.provider_title = provider_title
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.slots = CallSlots(max_concurrent)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "cms_social_login"
        self.session.headers["Accept"] = "application/json"

    def request_json(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        """Send the request and decode a JSON answer of any status."""
        title = {"title": self.provider_title}
        unreachable = _("We could not reach ${title}. Please try again in a moment.",
                        mapping=title)
        slot = self.slots.acquire(min(SLOT_PATIENCE, self.timeout))
        if slot is None:
            raise ProviderBusy(
                _("${title} is slow to answer right now; please try again in a moment.",
                  mapping=title),
                f"{method} {url}: {self.slots.limit} slow calls already in flight")
        call = _Call()
        try:
            threading.Thread(target=self._run, args=(call, slot, method, url, kwargs),
                             name=f"cms_social_login {self.provider_title}",
                             daemon=True).start()
        except BaseException:
            self.slots.release(slot)
            raise
        if not call.done.wait(self.timeout):
            call.abandon()
            raise ProviderError(unreachable, f"{method} {url}: no complete answer within "
                                             f"{self.timeout}s")
        if isinstance(call.error, requests.Timeout):
            raise ProviderError(unreachable, f"{method} {url}: timed out after "
                                             f"{self.timeout}s") from call.error
        if isinstance(call.error, requests.RequestException):
            raise ProviderError(unreachable,
                                f"{method} {url}: {type(call.error).__name__}") from call.error
        if call.error is not None:  # a ProviderError of _read, or a bug: raised here
            raise call.error
        body, status = call.body, call.status
        try:
            data = json.loads(body) if body else None
        except ValueError as exc:
            if status >= 400:  # an error page: the status says enough
                return HttpResponse(status=status, data=None, url=url)
            raise ProviderError(
                _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                f"{method} {url}: HTTP {status} with a body that is not JSON",
            ) from exc
        return HttpResponse(status=status, data=data, url=url)

    def _run(self, call: _Call, slot: float, method: str, url: str,
             kwargs: dict[str, Any]) -> None:
        """The helper thread: send, read the body, hand both (or the error) to ``call``.

        urllib3's ``total`` bounds the connect and each read by what is left of the
        budget; the caller's :meth:`_Call.abandon` cuts a body that still trickles. A
        server that trickles its *headers* keeps this thread (not the caller's) until it
        stops, as urllib3 gives no handle on the socket before the headers are in; its
        slot stays taken meanwhile, so the provider counts as slow."""
        try:
            with self.session.request(method, url, timeout=Timeout(total=self.timeout),
                                      stream=True, allow_redirects=False,
                                      **kwargs) as response:
                call.attach(response)
                call.body = self._read(response)
                call.status = response.status_code
        except Exception as exc:  # handed to the waiting caller
            call.error = exc
        finally:
            self.slots.release(slot)  # before done: the caller's next call may need it
            call.done.set()

    def _read(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise ProviderError(
                _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                f"{response.request.method} {response.url}: body of {declared} bytes "
                f"exceeds {self.max_bytes}",
            )
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise ProviderError(
                    _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                    f"{response.request.method} {response.url}: body exceeds "
                    f"{self.max_bytes} bytes",
                )
            chunks.append(chunk)
        return b"".join(chunks)
