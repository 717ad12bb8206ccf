"""Encryption of secrets at rest, with keys derived from ``cms_social_login.secret_key``."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from zope.interface import implementer

from .interfaces import ISecretBox


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """A key for one ``purpose``, derived from the site's secret key with HKDF-SHA256."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=b"cms_social_login",
                info=purpose.encode())
    return hkdf.derive(secret_key.encode())


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted (the secret key changed, or it was tampered)."""


@implementer(ISecretBox)
class FernetSecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) of short secrets."""

    def __init__(self, secret_key: str, purpose: str = "secrets at rest") -> None:
        key = base64.urlsafe_b64encode(derive_key(secret_key, purpose))
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        """The token that stands for ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str, ttl: int | None = None) -> str:
        """The plaintext of ``token``; ``ttl`` seconds bound its age when given."""
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=ttl).decode()
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise SecretDecryptionError("cannot decrypt the stored secret") from exc
