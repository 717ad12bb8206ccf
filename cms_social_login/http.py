"""Outbound HTTP for providers: one pooled session per provider, a deadline on every call,
a limit on calls in flight per provider, bounded bodies.

Every call follows the operator's address policy (:class:`UrlPolicy`): ``https://`` only,
and never to a loopback, private, link-local, unique-local, multicast, unspecified or
otherwise non-global address, unless ``cms_social_login.allow_private_provider_urls`` is
on (development and tests; it also lets ``http://`` reach loopback hosts). The address is
checked when the connection is made, on the address actually connected to, so a name
that resolves to a public address when the editor saves and to an internal one later (DNS
rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .i18n import _
from .origins import url_origin
from .providers.errors import (
    NOT_ALLOWED_REASON,
    UNREACHABLE_REASON,
    UNREADABLE_REASON,
    ProviderBusy,
    ProviderError,
)

if TYPE_CHECKING:  # requests and urllib3 are imported at a provider's first call
    import requests

    from .http_transport import PolicyAdapter

log = logging.getLogger(__name__)

#: Bodies larger than this are refused unread (a profile or token answer is a few KiB).
MAX_BODY_BYTES = 1_000_000


#: Host names that always mean this machine.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class AddressNotAllowed(Exception):
    """The operator's policy refuses an outbound URL or the address its host resolves to.

    ``str()`` is the operator's detail (the URL's host or the refused address).
    """


#: IPv6 ranges whose last 32 bits are an IPv4 address: IPv4-compatible (``::127.0.0.1``,
#: RFC 4291 2.5.5.1), SIIT IPv4-translated (``::ffff:0:7f00:1``, RFC 2765 2.1) and the
#: NAT64 well-known prefix (RFC 6052 2.1).
EMBEDS_IPV4_LAST_32_BITS = tuple(ipaddress.IPv6Network(network) for network in (
    "::/96", "::ffff:0:0:0/96", "64:ff9b::/96"))
#: Local-use NAT64 (RFC 8215): the IPv4 address may sit anywhere after the /48, and the
#: range is not globally reachable: refused whole.
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def address_allowed(address: str) -> bool:
    """Whether ``address`` (an IP address literal) is a public unicast address.

    Refused: loopback, private (RFC 1918), shared (100.64/10), link-local, unique-local
    (fc00::/7), multicast, unspecified, reserved and documentation ranges, and IPv6
    forms that embed such an IPv4 address (mapped, compatible, SIIT, 6to4, Teredo, NAT64;
    local-use NAT64 entirely).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in LOCAL_NAT64:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo or (None, None))[1]
        if embedded is None and any(ip in network for network in EMBEDS_IPV4_LAST_32_BITS):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not address_allowed(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


def numeric_host(host: str) -> str | None:
    """The IP address a host written as a number means (``127.1``, ``0x7f000001``,
    ``[::1]``...), as the resolver would read it without asking DNS; None for a name."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return str(infos[0][4][0]) if infos else None


@dataclass(frozen=True)
class UrlPolicy:
    """Where provider calls may go: public ``https://`` servers, or anywhere reachable
    when ``allow_private`` (the setting ``cms_social_login.allow_private_provider_urls``)."""

    allow_private: bool = False

    def is_loopback_host(self, host: str) -> bool:
        """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
        host = host.lower().rstrip(".")
        if host in LOOPBACK_NAMES or host.endswith(".localhost"):
            return True
        address = numeric_host(host)
        return address is not None and ipaddress.ip_address(address).is_loopback

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` may not be called (the reason in English words), or None.

        Checks what can be known without DNS: the scheme, and a host that is a loopback
        name or an address literal. Names are checked again when connecting.
        """
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return NOT_ALLOWED_REASON
        if not host:
            return NOT_ALLOWED_REASON
        loopback = self.is_loopback_host(host)
        if parts.scheme == "http" and self.allow_private and loopback:
            return None
        if parts.scheme != "https":
            return NOT_ALLOWED_REASON
        if self.allow_private:
            return None
        address = numeric_host(host)
        if loopback or (address is not None and not address_allowed(address)):
            return NOT_ALLOWED_REASON
        return None

    def check_url(self, url: str) -> None:
        """Raise :class:`AddressNotAllowed` when :meth:`url_problem` finds one."""
        if self.url_problem(url):
            raise AddressNotAllowed(f"URL refused by the address policy: {_logged_origin(url)}")

    def adapter(self) -> PolicyAdapter:
        """The ``requests`` transport that applies this policy to every connection."""
        from .http_transport import PolicyAdapter

        return PolicyAdapter(self)


def _logged_origin(url: str) -> str:
    """The origin of ``url`` for a log line."""
    return url_origin(url) or "(unparsable URL)"


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


class HttpClient:
    """Calls a provider's endpoints over one ``requests.Session`` (connection reuse).

    ``timeout`` seconds is the whole call's budget (the name's lookup, connect, send,
    every read, the body included): each step gets only what is left of it, so the
    caller gets a :class:`ProviderError` at the deadline even from a server that trickles
    its answer. The call runs in the caller's thread (a name to look up is the one step
    that waits in a helper thread, as the resolver keeps no deadline). At most
    ``max_concurrent`` calls are in flight at once; one more waits for a slot while the
    calls in flight are younger than :data:`SLOT_PATIENCE`, and is refused with
    :class:`ProviderBusy` once they are older (at once, while the provider stays slow),
    so a hung provider holds a bounded number of the server's threads. The body is read
    up to ``max_bytes``; network failures and non-JSON bodies become
    :class:`ProviderError` naming ``provider_title``.
    """

    def __init__(self, provider_title: str, timeout: float,
                 max_bytes: int = MAX_BODY_BYTES, max_concurrent: int = 2, *,
                 policy: UrlPolicy | None = None) -> None:
        self.provider_title = provider_title
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.slots = CallSlots(max_concurrent)
        self.policy = policy or UrlPolicy()
        self._session: requests.Session | None = None
        self._session_lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The pooled ``requests.Session``, made at the first call: a worker that only
        serves pages never loads ``requests`` and urllib3 (benchmark 4's memory)."""
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    import requests

                    session = requests.Session()
                    # Proxies from the environment would hide the real destination from
                    # the policy.
                    session.trust_env = False
                    adapter = self.policy.adapter()
                    for prefix in ("https://", "http://"):
                        session.mount(prefix, adapter)
                    session.headers["User-Agent"] = "cms_social_login"
                    session.headers["Accept"] = "application/json"
                    self._session = session
        return self._session

    def close(self) -> None:
        """Close the pooled connections; a client that made no call has none (and loads
        nothing to close them)."""
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

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
        import requests  # loaded with the session (see :mod:`.http_transport`)

        from .http_transport import timed_out

        try:
            status, body = self._exchange(method, url, kwargs)
        except AddressNotAllowed as exc:
            log.warning("outbound %s %s refused: %s", method, _logged_origin(url), exc)
            raise ProviderError(unreachable, NOT_ALLOWED_REASON) from exc
        except requests.RequestException as exc:
            if timed_out(exc):
                log.warning("outbound %s %s: no complete answer within %ss", method,
                            _logged_origin(url), self.timeout)
            else:
                log.warning("outbound %s %s: %s", method, _logged_origin(url),
                            type(exc).__name__)
            raise ProviderError(unreachable, UNREACHABLE_REASON) from exc
        finally:
            self.slots.release(slot)
        try:
            data = json.loads(body) if body else None
        except ValueError as exc:
            if status >= 400:  # an error page: the status says enough
                return HttpResponse(status=status, data=None, url=url)
            log.warning("outbound %s %s: HTTP %s with a body that is not JSON", method,
                        _logged_origin(url), status)
            raise ProviderError(
                _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                UNREADABLE_REASON,
            ) from exc
        if status >= 400:
            log.info("outbound %s %s%s: HTTP %s", method, _logged_origin(url),
                     urlsplit(url).path[:200], status)
        return HttpResponse(status=status, data=data, url=url)

    def _exchange(self, method: str, url: str, kwargs: dict[str, Any]) -> tuple[int, bytes]:
        """Send, read the body; (status, body). urllib3's ``total`` bounds the connect
        and the send by the budget, and the connection's reads by what is left of it."""
        from urllib3.util import Timeout

        with self.session.request(method, url, timeout=Timeout(total=self.timeout),
                                  stream=True, allow_redirects=False, **kwargs) as response:
            return response.status_code, self._read(response)

    def _read(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isascii() and declared.isdigit() \
                and int(declared) > self.max_bytes:
            log.warning("outbound %s %s: body of %s bytes exceeds %s",
                        response.request.method, _logged_origin(response.url), declared,
                        self.max_bytes)
            raise ProviderError(
                _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}), UNREADABLE_REASON)
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_bytes:
                log.warning("outbound %s %s: body exceeds %s bytes",
                            response.request.method, _logged_origin(response.url), self.max_bytes)
                raise ProviderError(
                    _("${title} sent an answer we could not read. Please try again.",
                      mapping={"title": self.provider_title}), UNREADABLE_REASON)
            chunks.append(chunk)
        return b"".join(chunks)
