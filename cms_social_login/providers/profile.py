"""The profile builder: velruse's profile (Portable Contacts) from a few named values.

Every provider hands the core the same shape, the one velruse's ``AuthenticationComplete``
carries, so code written for velruse reads it unchanged::

    {"accounts": [{"domain": ..., "userid": ..., "username": ...}],
     "displayName": ..., "preferredUsername": ...,
     "name": {"formatted": ..., "givenName": ..., "familyName": ...},
     "emails": [{"value": ..., "primary": bool, "verified": bool}],
     "verifiedEmail": ... or None,
     "photos": [{"value": ...}], "urls": [{"type": "profile", "value": ...}]}

``photos``, ``urls``, ``givenName`` and ``familyName`` are there only when known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Email:
    """One of the account's addresses, as its provider describes it."""

    value: str
    primary: bool = False
    #: The provider says the account holder confirmed this address.
    verified: bool = False


def text(value: object) -> str | None:
    """``value`` when it is a non-blank string (stripped), else None: for reading a
    provider's JSON, where any key may be missing or of another type."""
    return value.strip() or None if isinstance(value, str) else None


def build_profile(*, domain: str, userid: str, username: str | None = None,
                  display_name: str | None = None, given_name: str | None = None,
                  family_name: str | None = None, emails: Iterable[Email] = (),
                  photo: str | None = None, profile_url: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The profile of the account ``userid`` (the provider's *stable* id, a string) at
    ``domain``.

    ``verifiedEmail`` is the first address that is both primary and verified (None when
    there is none: never an unconfirmed address). The display name falls back to the
    given and family names, the username, that address, any address, then the id.
    ``extra`` keys are added as they are (e.g. ``issuer``, ``accountId``).
    """
    addresses = [email for email in emails if email.value]
    verified = next((e.value for e in addresses if e.primary and e.verified), None)
    joined = " ".join(part for part in (given_name, family_name) if part) or None
    shown = (display_name or joined or username or verified
             or (addresses[0].value if addresses else None) or userid)
    name: dict[str, str] = {"formatted": shown}
    if given_name:
        name["givenName"] = given_name
    if family_name:
        name["familyName"] = family_name
    profile: dict[str, Any] = {
        "accounts": [{"domain": domain, "userid": userid, "username": username}],
        "displayName": shown,
        "preferredUsername": username,
        "name": name,
        "emails": [{"value": e.value, "primary": e.primary, "verified": e.verified}
                   for e in addresses],
        "verifiedEmail": verified,
        **extra,
    }
    if photo:
        profile["photos"] = [{"value": photo}]
    if profile_url:
        profile["urls"] = [{"type": "profile", "value": profile_url}]
    return profile
