"""The records the emulated provider keeps: clients, codes, tokens, armed failures, the log.

Plain dataclasses, shared by every concern of :class:`~.emulator.OAuth2Emulator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import webob


@dataclass
class Client:
    """A registered OAuth client (a "consumer" in Bitbucket's words)."""

    client_id: str
    client_secret: str
    callback_url: str | None = None
    private: bool = True
    scopes: str = ""
    name: str = ""


@dataclass
class AuthorizationCode:
    """An authorization code issued by the consent page."""

    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    scope: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    """An access token; ``user_id`` is ``None`` for client-credentials tokens."""

    token: str
    client_id: str
    user_id: str | None
    scopes: str
    expires_at: float
    refresh_token: str | None = None
    code: str | None = None
    revoked: bool = False


@dataclass
class RefreshToken:
    """A refresh token; it works once (rotation)."""

    token: str
    client_id: str
    user_id: str | None
    scopes: str
    code: str | None = None
    used: bool = False


@dataclass
class Failure:
    """A failure armed by :meth:`OAuth2Emulator.fail`."""

    status: int | None
    body: bytes | str | dict | list | None
    content_type: str
    delay: float
    times: int


@dataclass(frozen=True)
class LoggedRequest:
    """One request received by the emulator (see :attr:`OAuth2Emulator.log`)."""

    endpoint: str | None
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


class Abort(Exception):
    """Raised inside a handler to answer with ``response`` straight away."""

    def __init__(self, response: webob.Response) -> None:
        super().__init__(response.status)
        self.response = response
