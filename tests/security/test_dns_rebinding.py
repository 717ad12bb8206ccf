"""DNS rebinding: a connection is made only to an address the policy checked. When the
checked lookup fails, the call fails: it never falls back to a second, unchecked lookup
(a resolver answering SERVFAIL first and this machine's address next would otherwise get
the site to connect to it)."""

from __future__ import annotations

import socket

import pytest

from cms_social_login.http import HttpClient, UrlPolicy
from cms_social_login.providers.errors import ProviderError

NAME = "rebinding.example.com"


class FlakyResolver:
    """A resolver for ``NAME`` that fails the first lookup (SERVFAIL) and answers
    127.0.0.1 afterwards; other names go to the real resolver. In process: no DNS
    traffic leaves the machine."""

    def __init__(self) -> None:
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host != NAME or kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        if self.lookups == 1:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def test_a_failed_checked_lookup_is_not_retried_unchecked(monkeypatch):
    resolver = FlakyResolver()
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        client = HttpClient("Probe", 2, policy=UrlPolicy(allow_private=False))
        with pytest.raises(ProviderError) as failed:
            client.request_json("GET", f"https://{NAME}:{port}/.well-known/openid-configuration")
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing connected to this machine
    assert failed.value.cause == "The server could not be reached"
    assert resolver.lookups == 1
