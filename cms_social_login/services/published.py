"""What the live site uses: the published document, cached per process, checked per request.

Every request that needs the published settings (the login page, starting a login, the
callback) costs one indexed read: the ``version`` and ``updated_at`` of the
``published`` row of ``social_login_settings`` (its primary key). When they are the
ones this process saw last, the decoded document and the list of enabled providers
built from it are reused; otherwise the document is read once (a second primary-key
read) and becomes the process's new snapshot. A Save on any process therefore shows on
every process from its very next request, and nothing correct depends on the cache:
it only saves decoding JSON and rebuilding the buttons.

The snapshot lives on the registry (one per application, no module state); it is
replaced whole, never changed in place, so threads share it without locks. Its
document is shared too: treat it as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..models import PUBLISHED, LoginSettings
from ..providers.base import Provider
from ..providers.registry import get_provider_registry
from .login_settings import enabled_providers

__all__ = [
    "CACHE_KEY",
    "PublishedSnapshot",
    "live_buttons",
    "load_published_document",
    "published_document",
    "published_snapshot",
]

#: Registry key of the process's latest :class:`PublishedSnapshot`.
CACHE_KEY = "cms_social_login.published_snapshot"
#: Request attribute that keeps this request's snapshot.
_REQUEST_KEY = "_cms_social_login_published_snapshot"


@dataclass(frozen=True)
class PublishedSnapshot:
    """The published document as of one version of the ``published`` row.

    ``version`` is 0 and ``document`` empty before the first Save. ``buttons`` are
    the enabled, fully configured providers in button order.
    """

    version: int
    updated_at: datetime | None
    document: dict[str, Any]
    buttons: tuple[Provider, ...] = ()

    @property
    def key(self) -> tuple[int, datetime | None]:
        """What identifies this snapshot's row version."""
        return (self.version, self.updated_at)


EMPTY = PublishedSnapshot(version=0, updated_at=None, document={})


def _snapshot(registry: Any, version: int, updated_at: datetime | None,
              document: dict[str, Any] | None) -> PublishedSnapshot:
    document = dict(document or {})
    buttons = tuple(provider for provider, _ in
                    enabled_providers(document, get_provider_registry(registry)))
    return PublishedSnapshot(version=version, updated_at=updated_at, document=document,
                             buttons=buttons)


def published_snapshot(request: Any) -> PublishedSnapshot:
    """This request's snapshot of the published settings (checked once per request).

    One statement when the process's cached snapshot is current (the version read),
    two when it is not (the version read, then the row with its document).
    """
    snapshot = request.__dict__.get(_REQUEST_KEY)
    if snapshot is not None:
        return snapshot
    dbsession = request.dbsession
    registry = request.registry
    # 1. SELECT version, updated_at FROM social_login_settings WHERE stage = 'published'
    #    (a primary-key lookup; no JSON is read or decoded).
    row = dbsession.execute(
        select(LoginSettings.version, LoginSettings.updated_at)
        .where(LoginSettings.stage == PUBLISHED)).first()
    cached: PublishedSnapshot | None = registry.get(CACHE_KEY)
    if row is None:
        snapshot = EMPTY
    elif cached is not None and cached.key == (row.version, row.updated_at):
        snapshot = cached
    else:
        # 2. Only after a Save somewhere: the row again, with its document. Version and
        #    document come from one read, so they always belong together.
        fresh = dbsession.execute(
            select(LoginSettings.version, LoginSettings.updated_at, LoginSettings.document)
            .where(LoginSettings.stage == PUBLISHED)).first()
        if fresh is None:
            snapshot = EMPTY
        else:
            snapshot = _snapshot(registry, fresh.version, fresh.updated_at, fresh.document)
            registry[CACHE_KEY] = snapshot
    request.__dict__[_REQUEST_KEY] = snapshot
    return snapshot


def load_published_document(request: Any) -> dict[str, Any]:
    """The published document (empty before the first Save), for ``request.social_login_published``.

    Shared with other requests of this process: read it, do not change it.
    """
    return published_snapshot(request).document


def published_document(request: Any) -> dict[str, Any]:
    """The published document of this request (read at most once per request)."""
    return request.social_login_published


def live_buttons(request: Any, document: dict[str, Any] | None = None) -> list[Any]:
    """The providers a visitor may use, in button order, from ``document`` (default: live).

    The live list is built once per published version and process.
    """
    if document is None:
        return list(published_snapshot(request).buttons)
    registry = get_provider_registry(request.registry)
    return [provider for provider, _ in enabled_providers(document, registry)]
