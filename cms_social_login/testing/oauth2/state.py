"""What every concern of the emulator shares: its records, its lock and its clock."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, ClassVar

from ..live_server import LiveServer
from .records import AccessToken, AuthorizationCode, Client, Failure, LoggedRequest, RefreshToken


class EmulatorState:
    """The state of one emulated provider, guarded by one re-entrant lock.

    Every mixin of :class:`~.emulator.OAuth2Emulator` reads and writes these
    dictionaries under ``self._lock``; :meth:`_now` is the one clock (tests
    move time by editing ``expires_at`` / ``issued_at``, never by sleeping).
    """

    #: Shown in page titles.
    provider_name: ClassVar[str] = "OAuth 2.0 provider"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.clients: dict[str, Client] = {}
        self.users: dict[str, Any] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.failures: dict[str, list[Failure]] = {}
        self.log: list[LoggedRequest] = []
        self._current_user_id: str | None = None
        #: The running server (None when not started); set by ``stop()``, which cuts
        #: armed delays short.
        self._live: LiveServer | None = None
        self._stopping = threading.Event()

    def _now(self) -> float:
        return time.time()
