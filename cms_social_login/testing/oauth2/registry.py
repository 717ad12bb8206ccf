"""The provider's registry: its OAuth clients ("consumers") and its users.

Users are whatever :meth:`RegistryMixin.make_user` builds (a dict here; each
provider's emulator builds its own dataclass); :attr:`RegistryMixin.current_user`
plays "the user logged in at the provider" for the consent page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .records import Client
from .state import EmulatorState


class RegistryMixin(EmulatorState):
    """Clients and users, and who is logged in at the provider."""

    #: Scopes a client gets when :meth:`add_client` is given none.
    default_scopes: ClassVar[str] = ""

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        callback_url: str | None = None,
        private: bool = True,
        *,
        scopes: str | None = None,
        name: str | None = None,
    ) -> Client:
        """Register (or replace) a client; ``scopes`` defaults to :attr:`default_scopes`."""
        client = Client(
            client_id=client_id,
            client_secret=client_secret,
            callback_url=callback_url,
            private=private,
            scopes=self.default_scopes if scopes is None else scopes,
            name=name or client_id,
        )
        with self._lock:
            self.clients[client_id] = client
        return client

    def make_user(self, **profile: Any) -> Any:
        """Build a user object from ``profile`` (base: a dict with an ``id``)."""
        user = dict(profile)
        user.setdefault("id", str(next(self._ids)))
        user["id"] = str(user["id"])
        return user

    def add_user(self, **profile: Any) -> Any:
        """Create a user with :meth:`make_user`, register it and return it."""
        return self._register_user(self.make_user(**profile))

    def _register_user(self, user: Any) -> Any:
        with self._lock:
            self.users[self.user_id(user)] = user
        return user

    def user_id(self, user: Any) -> str:
        """The registry key of ``user`` (``user["id"]`` or ``user.id``)."""
        return str(user["id"] if isinstance(user, Mapping) else user.id)

    def user_display_name(self, user: Any) -> str:
        """The name shown on the consent page."""
        if isinstance(user, Mapping):
            return str(user.get("display_name") or user.get("name") or user["id"])
        return str(getattr(user, "display_name", None) or self.user_id(user))

    def get_user(self, user_or_id: Any) -> Any:
        """Return the registered user for a user object or id (KeyError if unknown)."""
        key = user_or_id if isinstance(user_or_id, str) else self.user_id(user_or_id)
        with self._lock:
            return self.users[key]

    @property
    def current_user(self) -> Any | None:
        """The user logged in at the provider: the one set, else the first added."""
        with self._lock:
            if self._current_user_id in self.users:
                return self.users[self._current_user_id]
            return next(iter(self.users.values()), None)

    @current_user.setter
    def current_user(self, user: Any | None) -> None:
        with self._lock:
            if user is None:
                self._current_user_id = None
            else:
                self._current_user_id = self.user_id(self.get_user(user))
