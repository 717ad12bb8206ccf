"""Events notified on the registry when a social login ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class SocialLoginSucceeded:
    """A visitor signed in through a provider.

    ``result`` is velruse's ``AuthenticationComplete``; ``userid`` the local user;
    ``created`` tells whether the account was made by this login.
    """

    request: Any
    provider_name: str
    result: Any
    userid: str
    created: bool


@dataclass
class SocialLoginFailed:
    """A social login did not end with a signed-in visitor.

    ``reason`` is the plain message shown to the visitor; ``cause`` the operator's detail
    (never a secret or a token); ``result`` velruse's ``AuthenticationDenied`` when the
    provider itself refused.
    """

    request: Any
    provider_name: str
    reason: str
    cause: str
    result: Any = None
    #: ``denied``, ``error``, ``refused`` or ``invalid-state`` (the audit log's word).
    outcome: str = "error"
