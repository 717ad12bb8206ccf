"""Provider URLs follow the operator's address policy (issue 12, item 4: SSRF).

https only; loopback, private, link-local, unique-local, multicast and unspecified
addresses are refused unless ``cms_social_login.allow_private_provider_urls`` is on (the
tests' emulators run on http://127.0.0.1, so the kit turns it on; the strict site below
turns it off). Checked when the editor types the URL, and again when connecting.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from cms_social_login.http import HttpClient, UrlPolicy, address_allowed
from cms_social_login.models import AuditEvent
from cms_social_login.providers.base import url_field_error
from cms_social_login.providers.errors import NOT_ALLOWED_REASON, ProviderError
from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import error_message, fill_tab

STRICT = UrlPolicy(allow_private=False)
RELAXED = UrlPolicy(allow_private=True)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.251", "255.255.255.255", "::1", "::", "fe80::1",
    "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "not an address",
    # IPv6 forms that embed a loopback or private IPv4 address: IPv4-compatible, SIIT,
    # NAT64 (well-known and local-use: the latter refused whole, RFC 8215).
    "::127.0.0.1", "::10.0.0.1", "::ffff:0:7f00:1", "::ffff:0:a00:1", "64:ff9b::7f00:1",
    "64:ff9b:1::7f00:1", "64:ff9b:1:7f00:0:100::", "64:ff9b:1::808:808"])
def test_non_public_addresses_are_refused(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "140.82.112.3", "2001:4860:4860::8888",
                                     "::ffff:8.8.8.8", "::ffff:0:808:808", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/", "https://localhost:8443/", "https://api.localhost/",
    "https://[::1]/", "https://10.1.2.3/realms/x", "https://169.254.169.254/latest",
    "https://2130706433/", "https://0x7f.1/", "https://127.1/", "https://[fd00::1]:9000/",
    "https://0.0.0.0/", "http://127.0.0.1:8080/", "http://gitlab.example.com/"])
def test_the_strict_policy_refuses(url):
    assert STRICT.url_problem(url) == NOT_ALLOWED_REASON


def test_the_strict_policy_takes_public_https():
    assert STRICT.url_problem("https://accounts.google.com") is None
    assert STRICT.url_problem("https://keycloak.example.com:8443/realms/staff") is None


def test_the_development_setting_allows_private_and_http_on_loopback_only():
    assert RELAXED.url_problem("http://127.0.0.1:8080/") is None
    assert RELAXED.url_problem("http://localhost:8080/") is None
    assert RELAXED.url_problem("https://10.0.0.5/") is None
    assert RELAXED.url_problem("http://10.0.0.5/") == NOT_ALLOWED_REASON
    assert RELAXED.url_problem("ftp://127.0.0.1/") == NOT_ALLOWED_REASON


@pytest.mark.parametrize(("value", "words"), [
    ("http://gitlab.example.com", "must start with https://"),
    ("https://127.0.0.1:8443", "The address is not allowed"),
    ("https://localhost", "The address is not allowed"),
    ("https://192.168.10.4/gitlab", "The address is not allowed"),
    ("https://[fe80::1]/", "The address is not allowed"),
    ("https://gitlab.example.com:notaport", "must be a full address"),
    ("https://gitlab.example.com", None),
])
def test_the_field_says_why_in_words(value, words):
    message = url_field_error(value, "GitLab URL", STRICT)
    if words is None:
        assert message is None
    else:
        assert words in str(message.interpolate() if hasattr(message, "interpolate")
                            else message)
        assert ":8443" not in words


# --------------------------------------------------------------------------- strict site


@pytest.fixture
def social_login_settings(social_login_settings):
    """A site as production runs it: private provider addresses refused."""
    return {**social_login_settings,
            "cms_social_login.allow_private_provider_urls": "false"}


def oidc_tab(issuer: str) -> dict[str, str]:
    return {"issuer": issuer, "client_id": KIT_CLIENT_ID, "client_secret": KIT_CLIENT_SECRET}


def test_the_editor_cannot_point_the_issuer_at_this_machine(social_login_editor,
                                                            oidc_emulator):
    page = fill_tab(social_login_editor, "oidc", oidc_tab(oidc_emulator.issuer), "save",
                    status=400)
    field_error = page.html.select_one("#oidc-issuer-error") or page.html.select_one(
        ".field-error")
    assert field_error is not None
    assert "The address is not allowed" in field_error.get_text()
    page = fill_tab(social_login_editor, "oidc",
                    oidc_tab(f"https://127.0.0.1:{oidc_emulator.port}"), "save", status=400)
    assert "The address is not allowed" in page.text
    page = fill_tab(social_login_editor, "oidc", oidc_tab("http://sso.example.com"), "save",
                    status=400)
    assert "Issuer URL must start with https://." in page.text
    assert oidc_emulator.log == []  # nothing was fetched


def _name_of_this_machine() -> tuple[str, list[str]]:
    """The machine's host name and what it resolves to (from /etc/hosts or the
    resolver's own answer for the local name: no DNS server is asked)."""
    name = socket.gethostname()
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(name, 443)})
    except socket.gaierror:
        addresses = []
    return name, addresses


def test_a_name_that_resolves_to_a_private_address_is_refused_when_connecting(
        caplog, social_login_app, social_login_editor, social_login_visitor, oidc_emulator):
    """DNS rebinding: the name passes the field check (it is not an address), but the
    connection is refused because of the address it resolves to, and the editor, the
    visitor and the audit page read words, never the host, the port or a status."""
    name, addresses = _name_of_this_machine()
    if not addresses or any(address_allowed(a) for a in addresses):
        pytest.skip(f"the host name {name!r} does not resolve to a private address here "
                    f"({addresses})")
    issuer = f"https://{name}:{oidc_emulator.port}"
    caplog.set_level(logging.INFO)
    saved = fill_tab(social_login_editor, "oidc", oidc_tab(issuer), "save")
    assert saved.status_int == 303  # the field check could not know
    page = saved.follow()
    assert "The address is not allowed" in page.text
    assert str(oidc_emulator.port) not in page.html.select_one("main").get_text()
    assert oidc_emulator.log == []  # the connection was never made
    start = social_login_visitor.get("/login/oidc")
    assert error_message(start) and str(oidc_emulator.port) not in start.text
    assert oidc_emulator.log == []
    # The operator's log has the detail: the name and the address it resolved to.
    assert any("address policy refuses" in r.getMessage() and name in r.getMessage()
               for r in caplog.records)
    audit = social_login_editor.get("/editor/system-pages/login/audit")
    table = audit.html.select_one("table.audit-events").get_text(" ")
    assert "Sign-in failed" in table
    assert str(oidc_emulator.port) not in table and name not in table
    with social_login_app.registry["cms_social_login.dbsession_factory"]() as db:
        reasons = [e.detail.get("reason", "") for e in db.scalars(select(AuditEvent))]
    assert any("The address is not allowed" in r for r in reasons)
    assert all("HTTP" not in r and str(oidc_emulator.port) not in r and name not in r
               for r in reasons)


def test_the_http_client_refuses_before_connecting(oidc_emulator):
    client = HttpClient("Test", 2, policy=STRICT)
    with pytest.raises(ProviderError) as refused:
        client.request_json("GET", oidc_emulator.discovery_url)
    assert refused.value.cause == NOT_ALLOWED_REASON
    assert oidc_emulator.requests_to("discovery") == []
    relaxed = HttpClient("Test", 2, policy=RELAXED)
    assert relaxed.request_json("GET", oidc_emulator.discovery_url).status == 200


def test_redirects_are_not_followed_to_anywhere(oidc_emulator):
    """A provider answering with a redirect to an internal address does not get the site
    to follow it: redirects are never followed."""
    class RedirectToTheEmulator(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            self.send_response(302)
            self.send_header("Location", oidc_emulator.discovery_url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with HTTPServer(("127.0.0.1", 0), RedirectToTheEmulator) as server:
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        client = HttpClient("Test", 2, policy=RELAXED)
        answer = client.request_json("GET", f"http://127.0.0.1:{server.server_port}/")
        thread.join(timeout=5)
    assert answer.status == 302
    assert oidc_emulator.requests_to("discovery") == []  # the Location was not visited


def test_the_connection_layer_refuses_by_itself(oidc_emulator):
    """Below the URL check, each connection is checked on the address the name resolved
    to: what a name that resolves to a public address at Save and to this machine later
    (DNS rebinding) meets. ``localhost`` resolves to this machine from /etc/hosts."""
    from cms_social_login.http import AddressNotAllowed

    pool = STRICT.adapter().poolmanager.connection_from_url(
        f"https://localhost:{oidc_emulator.port}/")
    with pytest.raises(AddressNotAllowed, match="resolves to"):
        pool.urlopen("GET", "/.well-known/openid-configuration", retries=False)
    assert oidc_emulator.log == []
    relaxed = RELAXED.adapter().poolmanager.connection_from_url(oidc_emulator.base_url)
    answer = relaxed.urlopen("GET", "/.well-known/openid-configuration", retries=False)
    assert answer.status == 200
