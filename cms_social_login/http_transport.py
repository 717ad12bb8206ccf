"""The ``requests`` / urllib3 transport of :mod:`cms_social_login.http`: the connection
classes that apply the address policy to the address actually connected to.

Imported at a provider's first outbound call (:attr:`~cms_social_login.http.HttpClient.session`),
not when the app starts: a worker that only serves pages never loads ``requests``.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from .http import AddressNotAllowed, UrlPolicy, address_allowed


class _PublicOnlyConnection(HTTPConnection):
    """Resolves the host itself and connects only to a public address (the one checked)."""

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            # Never urllib3's own (unchecked) lookup: a second answer may be another address.
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = [info[4][0] for info in infos]
        public = [address for address in addresses if address_allowed(str(address))]
        if not public:
            raise AddressNotAllowed(
                f"{self.host}:{self.port} resolves to {', '.join(map(str, addresses))}, "
                "which the address policy refuses")
        error: OSError | None = None
        for address in public:
            try:
                return create_connection((str(address), self.port), self.timeout,
                                         source_address=self.source_address,
                                         socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _PublicOnlyHTTPSConnection(_PublicOnlyConnection, HTTPSConnection):
    """HTTPS with the same check; the certificate is still verified for the host name."""


class _PublicOnlyPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyConnection


class _PublicOnlyHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class PolicyAdapter(HTTPAdapter):
    """A ``requests`` adapter that checks each URL, and (unless private addresses are
    allowed) each connection's resolved address, against a :class:`UrlPolicy`."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if not self.policy.allow_private:
            self.poolmanager.pool_classes_by_scheme = {"http": _PublicOnlyPool,
                                                       "https": _PublicOnlyHTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        self.policy.check_url(request.url or "")
        return super().send(request, *args, **kwargs)
