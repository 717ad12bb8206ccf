"""Encryption of secrets at rest, with keys derived from ``cms_social_login.secret_key``
(one key, or several while rotating: the first writes, any reads).

``cryptography`` (about 7 MiB in a worker) is imported when a secret is first encrypted
or decrypted, not at start: a worker that only serves pages such as ``/login`` never
needs it. Keys are derived with the standard library (HKDF is two HMAC steps).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from zope.interface import implementer

from .interfaces import ISecretBox

#: HKDF's salt (RFC 5869 2.2): the same for every key of every site.
KDF_SALT = b"cms_social_login"


def token_digest(token: str) -> str:
    """The SHA-256 hex digest a random token is stored as (login states, sessions)."""
    return hashlib.sha256(token.encode()).hexdigest()


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """A key for one ``purpose``, derived from the site's secret key with HKDF-SHA256
    (RFC 5869: extract with :data:`KDF_SALT`, expand with ``purpose`` as the info)."""
    if not 0 < length <= 255 * hashlib.sha256().digest_size:
        raise ValueError("HKDF-SHA256 gives 1 to 8160 bytes")
    pseudorandom = hmac.new(KDF_SALT, secret_key.encode(), hashlib.sha256).digest()
    blocks, block = [], b""
    for counter in range(1, -(-length // hashlib.sha256().digest_size) + 1):
        block = hmac.new(pseudorandom, block + purpose.encode() + bytes([counter]),
                         hashlib.sha256).digest()
        blocks.append(block)
    return b"".join(blocks)[:length]


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
        self._keys = [base64.urlsafe_b64encode(derive_key(key, purpose)) for key in keys]
        self._multi: Any = None

    @property
    def _fernet(self) -> Any:
        """``cryptography``'s MultiFernet of the keys, made at first use."""
        if self._multi is None:
            from cryptography.fernet import Fernet, MultiFernet

            self._multi = MultiFernet([Fernet(key) for key in self._keys])
        return self._multi

    def encrypt(self, plaintext: str) -> str:
        """The token that stands for ``plaintext`` (encrypted with the first key)."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str, ttl: int | None = None) -> str:
        """The plaintext of ``token``; ``ttl`` seconds bound its age when given.

        SecretDecryptionError when no key reads it (a key was dropped, or it was changed).
        """
        from cryptography.fernet import InvalidToken

        fernet = self._fernet
        try:
            return fernet.decrypt(token.encode("ascii"), ttl=ttl).decode()
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
