"""The call's deadline holds over HTTPS too: each read of a TLS answer gets only what is
left of the budget, so a provider that trickles its answer through TLS is cut at the
deadline, and a healthy one answers over a kept-alive TLS connection."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cms_social_login.http import HttpClient, UrlPolicy
from cms_social_login.providers.errors import ProviderError

from .helpers import TrickleServer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


class TlsTrickleServer(TrickleServer):
    """:class:`TrickleServer` behind TLS (the certificate of ``certificate``)."""

    def __init__(self, certificate: tuple[str, str], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*certificate)

    @property
    def url(self) -> str:
        return "https" + super().url[len("http"):]

    def _serve(self, connection) -> None:
        connection.settimeout(5)
        try:
            tls = self.context.wrap_socket(connection, server_side=True)
        except OSError:  # the client gave up during the handshake
            connection.close()
            return
        super()._serve(tls)


def call(certificate: tuple[str, str], url: str, timeout: float
         ) -> tuple[float, object]:
    client = HttpClient("Bitbucket", timeout=timeout, policy=UrlPolicy(allow_private=True))
    started = time.monotonic()
    try:
        answer = client.request_json("GET", url, verify=certificate[0])
    except ProviderError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, answer


@pytest.mark.parametrize("mode", ["body", "headers", "silent"])
def test_a_provider_trickling_through_tls_is_cut_at_the_deadline(certificate, mode):
    # A byte just before each read would time out: only a deadline that bounds the last
    # read too ends the call at 1 s (a read waiting its own timeout ends it at 1.8 s).
    with TlsTrickleServer(certificate, mode, interval=0.9, lifetime=20) as server:
        elapsed, error = call(certificate, server.url + "/2.0/user", timeout=1)
    assert isinstance(error, ProviderError)
    assert "We could not reach Bitbucket" in str(error.message.interpolate())
    assert 0.9 <= elapsed < 1.5


def test_a_healthy_provider_answers_over_tls(certificate):
    with TlsTrickleServer(certificate, "json", interval=0) as server:
        elapsed, answer = call(certificate, server.url + "/2.0/user", timeout=2)
    assert not isinstance(answer, Exception), answer
    assert answer.status == 200 and answer.data == {}
    assert elapsed < 2
