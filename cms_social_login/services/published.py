"""What the live site uses: the published document, cached per process and site.

Each process keeps, per site, a snapshot of the published row: its ``version`` and
``updated_at``, the document as its JSON text, compressed (unpacked for a request that
reads it: a login start, a callback, the account page) and the login buttons built from
it. A snapshot is trusted for ``cms_social_login.published_max_age`` seconds (default 0.5)
after the later of the read that last found it current and the process's last poll of
the Saves (:class:`SaveWatch`); the first request after that polls again: one indexed
read of the Saves of *every* site since the last poll (in autocommit: one round trip),
which drops the snapshots those Saves made stale; only a dropped (or never held) site
reads its document. So a login page costs no database work at all on almost every
request, however many sites a worker serves, and a Save on any process is live on every
other process within ``published_max_age`` (tests/production/test_many_processes.py
holds two workers to 1 s). The process that saves drops its own snapshot when the Save
commits: the editor sees the Save at once. ``published_max_age = 0`` checks the site's
version on every request.

Why a time bound and not a notification (PostgreSQL ``LISTEN``/``NOTIFY``, a file's
mtime): it works the same on every database the site runs on, needs no connection or
thread of its own per process, and its worst case is stated in one number.

The snapshots live on the registry (one cache per application, no module state), one
per site, keyed by the request's site (``request.social_login_site``): at most
``cms_social_login.site_cache_size`` sites (default 1000), the least recently used
dropped first, so a worker's memory is bounded by that setting, not by the number of
sites. A snapshot is replaced whole, never changed in place, so threads share it.

A cached site is kept small, so that a platform can afford a cache holding all its sites:
the snapshot has slots, holds the document once (its compressed JSON text, not a tree of
dicts: about half the text's bytes) and shares equal button lists with the other sites
(:func:`shared`). The rendered anonymous login pages of a site (:func:`site_pages`) are
kept in a second LRU cache of the same size, a few per site, and forgotten with the
site's snapshot on Save.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Text, bindparam, cast, select

from ..lru import LRUCache
from ..models import PUBLISHED, LoginSettings, PublishRecord, get_social_login_engine
from ..models.records import utcnow
from ..providers.registry import get_provider_registry
from ..sites import SiteCache, site_key
from .login_settings import LoginButton, login_buttons

T = TypeVar("T")

__all__ = [
    "CACHE_KEY",
    "MAX_AGE_KEY",
    "MAX_AGE_SETTING",
    "PAGES_KEY",
    "PAGES_PER_SITE",
    "PROCESS_STATE_KEYS",
    "PublishedSnapshot",
    "SaveWatch",
    "live_buttons",
    "load_published_document",
    "published_document",
    "published_snapshot",
    "save_watch",
    "forget_published_on_commit",
    "shared",
    "site_cache",
    "site_pages",
]

#: Registry key of the process's :class:`~cms_social_login.sites.SiteCache` of the
#: latest :class:`PublishedSnapshot` of each site.
CACHE_KEY = "cms_social_login.published_snapshots"
#: Seconds a checked snapshot is used without checking again (parsed in settings.py;
#: default 0.5: a Save is live on every process within half a second).
MAX_AGE_SETTING = "cms_social_login.published_max_age"
#: Registry key of that setting's value in this process (seconds, a float).
MAX_AGE_KEY = "cms_social_login.published_max_age_seconds"
#: Registry key of the process's rendered anonymous login pages, per site (a
#: :class:`~cms_social_login.lru.LRUCache` of ``site_cache_size`` sites).
PAGES_KEY = "cms_social_login.anonymous_login_pages"
#: At most this many pages per site: one per language and site address in use. A Host
#: header an attacker varies replaces the pages of the site it resolves to, never more.
PAGES_PER_SITE = 4
#: Registry key of the values equal sites share (:func:`shared`).
SHARED_KEY = "cms_social_login.shared_values"
#: How many distinct shared values a process keeps (button lists, page fragments).
SHARED_SIZE = 1024
#: Registry key of the process's :class:`SaveWatch`.
WATCH_KEY = "cms_social_login.save_watch"
#: Seconds a Save's ``published_at`` (the saving process's clock, at its flush) may lie
#: before the watch's poll that must find it: the Save's commit delay plus the clock
#: difference between two servers. Each poll reads the Saves of this many seconds back.
WATCH_OVERLAP = 60.0
#: Registry key of ``(engine, the same engine in autocommit)`` (made once, not per read).
AUTOCOMMIT_KEY = "cms_social_login.autocommit_engine"
#: Every registry key above: what this module remembers in a process between requests
#: (:func:`cms_social_login.cached_state.forget_cached_state` forgets them).
PROCESS_STATE_KEYS = (CACHE_KEY, MAX_AGE_KEY, PAGES_KEY, SHARED_KEY, WATCH_KEY, AUTOCOMMIT_KEY)
#: Request attribute that keeps this request's snapshot.
_REQUEST_KEY = "_cms_social_login_published_snapshot"

#: The published row's version and its last change (no JSON), of the site ``:site``.
_VERSION = select(LoginSettings.version, LoginSettings.updated_at).where(
    LoginSettings.site == bindparam("site"), LoginSettings.stage == PUBLISHED)
#: The Saves of every site since ``:since`` (through the ``published_at`` index).
_SAVES = select(PublishRecord.site, PublishRecord.version).where(
    PublishRecord.published_at > bindparam("since"))
#: The published row with its document as JSON text (decoded once, for the buttons).
_DOCUMENT = select(LoginSettings.version, LoginSettings.updated_at,
                   cast(LoginSettings.document, Text).label("text")
                   ).where(LoginSettings.site == bindparam("site"),
                           LoginSettings.stage == PUBLISHED)


class PublishedSnapshot:
    """The published document as of one version of the ``published`` row.

    ``key`` is ``(version, updated_at)``: ``(0, None)`` and the document empty before
    the first Save. ``packed`` is the document's JSON text, zlib-compressed (``b""``: an
    empty document); ``buttons`` are the enabled, fully configured providers in button
    order. ``checked_at`` is the ``time.monotonic()`` of the read that last found it
    current. Never changed once made: threads share it.
    """

    __slots__ = ("key", "packed", "buttons", "checked_at")

    def __init__(self, key: tuple[int, datetime | None], packed: bytes = b"",
                 buttons: tuple[LoginButton, ...] = (), checked_at: float = 0.0) -> None:
        self.key = key
        self.packed = packed
        self.buttons = buttons
        self.checked_at = checked_at

    @property
    def version(self) -> int:
        """The published row's version (0 before the first Save)."""
        return self.key[0]

    @property
    def updated_at(self) -> datetime | None:
        """When the published row last changed (None before the first Save)."""
        return self.key[1]

    @property
    def document(self) -> dict[str, Any]:
        """The document, decoded afresh (the caller's own copy)."""
        return json.loads(zlib.decompress(self.packed)) if self.packed else {}

    def checked(self, at: float) -> PublishedSnapshot:
        """The same snapshot, found current at ``at``."""
        return PublishedSnapshot(self.key, self.packed, self.buttons, at)


EMPTY = PublishedSnapshot((0, None))


def _max_age(registry: Any) -> float:
    seconds = registry.get(MAX_AGE_KEY)
    if seconds is None:  # parsed and checked at start (settings.py)
        seconds = registry[MAX_AGE_KEY] = registry.social_login_settings.published_max_age
    return seconds


def site_cache(registry: Any) -> SiteCache[str, PublishedSnapshot]:
    """The process's snapshots, one per site, bounded by ``site_cache_size``."""
    cache = registry.get(CACHE_KEY)
    if cache is None:
        cache = registry.setdefault(
            CACHE_KEY, SiteCache(registry.social_login_settings.site_cache_size))
    return cache


def site_pages(registry: Any) -> LRUCache[str, tuple[tuple[Any, Any], ...]]:
    """The process's rendered anonymous login pages: per site key, at most
    :data:`PAGES_PER_SITE` ``(page key, page)`` pairs, most recent first; at most
    ``site_cache_size`` sites (the least recently used go first)."""
    pages = registry.get(PAGES_KEY)
    if pages is None:
        pages = registry.setdefault(
            PAGES_KEY, LRUCache(registry.social_login_settings.site_cache_size))
    return pages


def shared(registry: Any, value: T) -> T:
    """The value equal to ``value`` another site already holds, else ``value`` (now
    shared): ten thousand sites with the same buttons hold one list of them. A bounded
    LRU cache (:data:`SHARED_SIZE`): a value it dropped is still held by its sites,
    only not shared with the next one."""
    values = registry.get(SHARED_KEY)
    if values is None:
        values = registry.setdefault(SHARED_KEY, LRUCache(SHARED_SIZE))
    held = values.get(value)
    if held is None:
        values.put(value, value)
        return value
    return held


class SaveWatch:
    """What keeps the snapshots of many sites current with one statement.

    A snapshot is trusted for ``published_max_age`` seconds after the later of its own
    check and the watch's last poll. A poll reads the Saves of *every* site since the
    previous one (less :data:`WATCH_OVERLAP`) and drops the snapshots (and pages) they
    made stale: so a worker serving 10,000 sites at random checks them all with one
    statement every ``published_max_age`` seconds, not one site per request.
    """

    def __init__(self) -> None:
        #: ``time.monotonic()`` when the last poll started (none yet: minus infinity).
        self.polled_at = float("-inf")
        #: The next poll reads the Saves published after this time.
        self.since = utcnow() - timedelta(seconds=WATCH_OVERLAP)
        self._lock = threading.Lock()

    def poll(self, run: Callable[..., Any], cache: SiteCache[str, PublishedSnapshot],
             pages: LRUCache[str, Any]) -> bool:
        """One poll through ``run``; False (and nothing run) while another thread polls."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            started, wall = time.monotonic(), utcnow()
            for site, version in run(_SAVES, {"since": self.since}).all():
                held = cache.peek(site)
                if held is not None and held.version < version:
                    cache.discard(site)
                    pages.discard(site)
            self.since = wall - timedelta(seconds=WATCH_OVERLAP)
            self.polled_at = started
            return True
        finally:
            self._lock.release()


def save_watch(registry: Any) -> SaveWatch:
    """The process's :class:`SaveWatch`."""
    watch = registry.get(WATCH_KEY)
    if watch is None:
        watch = registry.setdefault(WATCH_KEY, SaveWatch())
    return watch


def _autocommit(registry: Any, request: Any) -> Any:
    """The add-on's engine in autocommit mode (its pool; made once per engine)."""
    engine = get_social_login_engine(registry, request)
    held = registry.get(AUTOCOMMIT_KEY)
    if held is None or held[0] is not engine:
        held = registry[AUTOCOMMIT_KEY] = (
            engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
    return held[1]


def _refresh(registry: Any, cached: PublishedSnapshot | None,
             run: Callable[..., Any], site: str) -> PublishedSnapshot:
    now = time.monotonic()
    key = {"site": site}
    # 1. SELECT version, updated_at FROM social_login_settings
    #    WHERE site = :site AND stage = 'published'
    #    (a primary-key lookup; no JSON is read or decoded). A site the process does not
    #    hold (new to it, or dropped from the cache) skips it: step 2 reads everything.
    if cached is not None:
        row = run(_VERSION, key).first()
        if row is None:
            return EMPTY.checked(now)
        if cached.key == (row.version, row.updated_at):
            return cached.checked(now)
    # 2. Only after a Save somewhere (or for a site not held): the row with its document,
    #    as text. Version and document come from one read, so they always belong together.
    fresh = run(_DOCUMENT, key).first()
    if fresh is None:
        return EMPTY.checked(now)
    document = json.loads(fresh.text or "{}")
    buttons = tuple(login_buttons(document, get_provider_registry(registry)))
    packed = zlib.compress(fresh.text.encode(), 1) if document else b""
    return PublishedSnapshot((fresh.version, fresh.updated_at), packed,
                             shared(registry, buttons), now)


def published_snapshot(request: Any) -> PublishedSnapshot:
    """This request's snapshot of the published settings (found once per request).

    No statement while the process's snapshot of the site, or the :class:`SaveWatch`'s
    last poll, is less than ``published_max_age`` seconds old; else one (the poll of
    every site's Saves) when the snapshot is still current, two when it is not (the
    poll, then the row with its document). A site the process does not hold costs one
    statement: its row with its document. ``published_max_age = 0`` checks the site's
    own version on every request instead of polling.

    The read runs on a pooled connection in autocommit mode (one round trip, and no
    session is made for a login page), unless this request's session is already in a
    transaction (it may hold its own uncommitted Save): then it goes through the session,
    and what it finds is kept for this request only, never for the process.
    """
    snapshot = request.__dict__.get(_REQUEST_KEY)
    if snapshot is not None:
        return snapshot
    registry = request.registry
    cache = site_cache(registry)
    site = site_key(request)
    cached = cache.get(site)
    dbsession = request.__dict__.get("social_login_dbsession")
    if dbsession is not None and dbsession.in_transaction():
        snapshot = _refresh(registry, cached, dbsession.execute, site)
    else:
        max_age = _max_age(registry)
        watch = save_watch(registry)
        if cached is not None and time.monotonic() - max(
                cached.checked_at, watch.polled_at) < max_age:
            snapshot = cached
        else:
            with _autocommit(registry, request).connect() as connection:
                # A held site: one poll of every site's Saves (or, while another thread
                # polls, of this site's version); a site not held: its row, read at once.
                if cached is not None and max_age > 0 and watch.poll(
                        connection.execute, cache, site_pages(registry)):
                    snapshot = cache.peek(site)
                if snapshot is None:
                    snapshot = _refresh(registry, cache.peek(site), connection.execute, site)
            cache.put(site, snapshot)
    request.__dict__[_REQUEST_KEY] = snapshot
    return snapshot


def forget_published_on_commit(request: Any) -> None:
    """Drop this process's snapshot and rendered pages of the request's site once its
    transaction commits (a Save: the editor's own process shows it from the next request
    on)."""
    cache = site_cache(request.registry)
    site = site_key(request)
    pages = site_pages(request.registry)

    def forget(committed: bool) -> None:
        if committed:
            cache.discard(site)
            pages.discard(site)

    request.tm.get().addAfterCommitHook(forget)


def load_published_document(request: Any) -> dict[str, Any]:
    """The published document (empty before the first Save).

    This is ``request.social_login_published``: decoded once per request that reads it
    (the process keeps only its JSON text), so it is this request's own copy.
    """
    return published_snapshot(request).document


def published_document(request: Any) -> dict[str, Any]:
    """The published document of this request (read at most once per request)."""
    return request.social_login_published


def live_buttons(request: Any, document: dict[str, Any] | None = None) -> list[LoginButton]:
    """The buttons a visitor may use, in order, from ``document`` (default: the live one).

    The live list is built once per published version and process.
    """
    if document is None:
        return list(published_snapshot(request).buttons)
    registry = get_provider_registry(request.registry)
    return login_buttons(document, registry)
