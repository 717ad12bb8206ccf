"""A small thread-safe LRU cache, optionally with a time to live.

One class for the process-wide caches of the add-on: the published settings of many
sites (:data:`cms_social_login.sites.SiteCache`, no time to live) and the OpenID
Connect discovery documents and signing keys (each kept for a while).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["LRUCache"]

K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most ``size`` entries; the least recently used goes first. With ``ttl`` each
    entry is also forgotten ``ttl`` seconds after it was put (``0``: at once).

    Thread-safe; the values are shared between threads, so they must not be changed.
    """

    def __init__(self, size: int, ttl: float | None = None) -> None:
        if size < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.size = size
        self.ttl = ttl
        #: key -> (the monotonic time it expires at, or None; the value)
        self._entries: OrderedDict[K, tuple[float | None, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The live entry of ``key`` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires is not None and expires <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def peek(self, key: K) -> V | None:
        """The live entry of ``key``, or None, leaving the order of use as it is."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or (entry[0] is not None and entry[0] <= time.monotonic()):
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``; drop the least recently used beyond ``size``."""
        expires = None if self.ttl is None else time.monotonic() + self.ttl
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, key: K) -> None:
        """Forget ``key`` (nothing happens when it is not held)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[K]:
        """The keys held, least recently used first (expired ones until they are read)."""
        with self._lock:
            return list(self._entries)
