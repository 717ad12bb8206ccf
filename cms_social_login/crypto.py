"""Encryption of secrets at rest, with keys derived from ``cms_social_login.secret_key``
(one key, or several while rotating: the first writes, any reads)."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) of short secrets.

    ``secret_keys`` is one key or several (key rotation): the first encrypts, any of
    them decrypts (``cryptography``'s ``MultiFernet``).
    """

    def __init__(self, secret_keys: str | Sequence[str],
                 purpose: str = "secrets at rest") -> None:
        keys = [secret_keys] if isinstance(secret_keys, str) else list(secret_keys)
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([
            Fernet(base64.urlsafe_b64encode(derive_key(key, purpose))) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        """The token that stands for ``plaintext`` (encrypted with the first key)."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str, ttl: int | None = None) -> str:
        """The plaintext of ``token``; ``ttl`` seconds bound its age when given.

        SecretDecryptionError when no key reads it (a key was dropped, or it was changed).
        """
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=ttl).decode()
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise SecretDecryptionError("cannot decrypt the stored secret") from exc


#: Purposes of the add-on's short-lived tokens. Each has its own key derived from the
#: site's secret key (not the secret box of secrets at rest) and names itself inside the
#: token: a token made for one purpose is never read as another, nor as a secret at rest.
PENDING_SECRET = "pending secret"
TEST_LOGIN_STATE = "test login state"
TOKEN_PURPOSES = (PENDING_SECRET, TEST_LOGIN_STATE)


def purpose_box(registry: Any, purpose: str) -> ISecretBox:
    """The box of ``purpose`` (one of :data:`TOKEN_PURPOSES`), registered at start."""
    return registry.getUtility(ISecretBox, name=purpose)


def seal(box: ISecretBox, purpose: str, binding: Mapping[str, str], value: Any) -> str:
    """A token carrying ``value`` for ``purpose``, usable only where ``binding`` (the
    provider, field, server... it was made for) is the same."""
    return box.encrypt(json.dumps({"purpose": purpose, "binding": dict(binding),
                                   "value": value}, sort_keys=True))


def unseal(box: ISecretBox, token: str, purpose: str, binding: Mapping[str, str],
           ttl: int) -> Any:
    """The value :func:`seal` put in ``token`` for ``purpose`` and ``binding``, at most
    ``ttl`` seconds ago. SecretDecryptionError for any other token."""
    try:
        data = json.loads(box.decrypt(token, ttl=ttl))
    except ValueError as exc:
        raise SecretDecryptionError("not a sealed token") from exc
    if not isinstance(data, dict) or data.get("purpose") != purpose or "value" not in data:
        raise SecretDecryptionError("a token made for another purpose")
    expected = json.dumps(dict(binding), sort_keys=True)
    if not hmac.compare_digest(json.dumps(data.get("binding"), sort_keys=True).encode(),
                               expected.encode()):
        raise SecretDecryptionError("a token made for another provider, field or server")
    return data["value"]


def can_decrypt(box: ISecretBox, token: str) -> bool:
    """Whether one of ``box``'s keys reads ``token`` (False: a key was dropped, or the
    token was changed)."""
    try:
        box.decrypt(token)
    except SecretDecryptionError:
        return False
    return True
