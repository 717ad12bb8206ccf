"""The ``requests`` / urllib3 transport of :mod:`cms_social_login.http`: the connection
classes that apply the address policy to the address actually connected to.

Imported at a provider's first outbound call (:attr:`~cms_social_login.http.HttpClient.session`),
not when the app starts: a worker that only serves pages never loads ``requests``.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.connection import create_connection

from .http import AddressNotAllowed, UrlPolicy, address_allowed, numeric_host


def _lookup(host: str, port: int, timeout: float | None) -> list[Any]:
    """``getaddrinfo`` for a TCP connection to ``host``, given up after ``timeout``
    seconds (``TimeoutError``). The resolver keeps no deadline of its own, so a name is
    looked up in a helper thread that the caller stops waiting for; an address literal
    needs no lookup and no thread."""
    if numeric_host(host) is not None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answer: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting caller
            answer.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name="cms_social_login DNS lookup", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"looking up {host} took longer than {timeout}s")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0]


class _DeadlineReads(io.RawIOBase):
    """A socket's reads, each one given only what is left until ``deadline``: a server
    that trickles a byte now and then is cut at the deadline (a fixed per-read timeout
    would wait for it as long as it keeps going). On TLS one read is one ``SSLSocket``
    read, which keeps its timeout across the records it waits for."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # counted by the socket, as usual
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call's deadline passed")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ReadsByDeadline:
    """What http.client's answer reads through: the socket's ``makefile``, bounded by
    the deadline the socket's timeout sets when the answer begins (urllib3 sets it to
    what is left of the call's total budget just before)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def makefile(self, mode: str) -> io.BufferedReader:
        timeout = self.sock.gettimeout()
        if timeout is None:  # no budget was given: no deadline to keep
            return self.sock.makefile(mode)
        return io.BufferedReader(_DeadlineReads(self.sock, time.monotonic() + timeout))


class _AnswerByDeadline(http.client.HTTPResponse):
    """An answer whose status line, headers and body all arrive by the call's deadline."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(_ReadsByDeadline(sock), *args, **kwargs)  # type: ignore[arg-type]


class _DeadlineConnection(HTTPConnection):
    """A connection that keeps the call's deadline in the caller's thread: the name is
    looked up, connected to and every read of the answer is made within what is left of
    the budget (``timeout``, which urllib3 sets from the call's total). With
    ``public_only`` it connects only to a public address, the one it checked."""

    response_class = _AnswerByDeadline
    public_only = False

    def _new_conn(self) -> socket.socket:
        budget = self.timeout if isinstance(self.timeout, (int, float)) else None
        deadline = None if budget is None else time.monotonic() + budget
        try:
            infos = _lookup(self._dns_host, self.port, budget)
        except socket.gaierror as exc:
            # Never urllib3's own (unchecked) lookup: a second answer may be another address.
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Looking up {self.host} timed out") from exc
        addresses = [info[4][0] for info in infos]
        allowed = [address for address in addresses
                   if not self.public_only or address_allowed(str(address))]
        if not allowed:
            raise AddressNotAllowed(
                f"{self.host}:{self.port} resolves to {', '.join(map(str, addresses))}, "
                "which the address policy refuses")
        error: OSError | None = None
        for address in allowed:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                sock = create_connection((str(address), self.port), left,
                                         source_address=self.source_address,
                                         socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                error = exc
                continue
            if deadline is not None:  # the TLS handshake gets what is left, no more
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
            return sock
        if error is None:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out")
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _DeadlineHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    """HTTPS with the same deadline; the certificate is verified for the host name."""


class _PublicOnlyConnection(_DeadlineConnection):
    """Resolves the host itself and connects only to a public address (the one checked)."""

    public_only = True


class _PublicOnlyHTTPSConnection(_PublicOnlyConnection, HTTPSConnection):
    """HTTPS with the same check; the certificate is still verified for the host name."""


class _DeadlinePool(HTTPConnectionPool):
    ConnectionCls = _DeadlineConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class _PublicOnlyPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyConnection


class _PublicOnlyHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class PolicyAdapter(HTTPAdapter):
    """A ``requests`` adapter that checks each URL, and (unless private addresses are
    allowed) each connection's resolved address, against a :class:`UrlPolicy`; its
    connections keep each call's deadline (:class:`_DeadlineConnection`)."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if self.policy.allow_private:
            pools = {"http": _DeadlinePool, "https": _DeadlineHTTPSPool}
        else:
            pools = {"http": _PublicOnlyPool, "https": _PublicOnlyHTTPSPool}
        self.poolmanager.pool_classes_by_scheme = pools

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        self.policy.check_url(request.url or "")
        return super().send(request, *args, **kwargs)


def timed_out(error: requests.RequestException) -> bool:
    """Whether ``error`` is the deadline (``requests`` reports a body read that timed
    out as a ``ConnectionError`` around urllib3's ``ReadTimeoutError``)."""
    return isinstance(error, requests.Timeout) or any(
        isinstance(arg, ReadTimeoutError) for arg in error.args)
