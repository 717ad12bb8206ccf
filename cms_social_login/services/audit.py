"""The audit log: editor actions and sign-in outcomes, in the database and as log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..events import SocialLoginFailed, SocialLoginSucceeded
from ..models import AuditEvent
from ..models.records import utcnow

#: One JSON object per line: ``{"event": "cms_social_login.audit", ...}``.
audit_log = logging.getLogger("cms_social_login.audit")

EDITOR = "editor"
SIGNIN = "signin"
KINDS = (EDITOR, SIGNIN)
ACTIONS = {
    EDITOR: ("apply", "save", "preview", "restore", "publish-version", "verify", "import",
             "test-login"),
    SIGNIN: ("success", "denied", "error", "refused", "invalid-state"),
}
PAGE_SIZE = 50


def record(request: Any, kind: str, action: str, *, provider: str | None = None,
           detail: Mapping[str, Any] | None = None, actor: str | None = None) -> AuditEvent:
    """Add an event to this request's transaction and write its log line.

    ``detail`` must hold no secret and no token: callers pass field names, versions,
    counts and plain reasons only.
    """
    # PostgreSQL text cannot hold NUL: a provider name from the URL may (a 500 otherwise).
    provider = provider.replace("\x00", "\ufffd") if provider is not None else None
    event = AuditEvent(kind=kind, action=action, provider=provider,
                       actor=actor if actor is not None else request.authenticated_userid,
                       detail=dict(detail or {}), at=utcnow())
    request.social_login_dbsession.add(event)
    audit_log.info(json.dumps({
        "event": "cms_social_login.audit", "kind": kind, "action": action,
        "provider": provider, "actor": event.actor, "detail": event.detail,
        "at": event.at.isoformat()}, sort_keys=True, default=str))
    return event


def on_login_succeeded(event: SocialLoginSucceeded) -> None:
    """Subscriber: a sign-in through a provider worked."""
    record(event.request, SIGNIN, "success", provider=event.provider_name, actor=event.userid,
           detail={"new_account": event.created})


def on_login_failed(event: SocialLoginFailed) -> None:
    """Subscriber: a sign-in through a provider failed (the reason, never a token)."""
    record(event.request, SIGNIN, event.outcome, provider=event.provider_name[:64],
           detail={"reason": event.cause[:500]})


@dataclass(frozen=True)
class AuditFilter:
    """What the editor's audit page shows."""

    kind: str | None = None
    action: str | None = None
    provider: str | None = None
    since: datetime | None = None
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AuditFilter:
        """Read the page's query; unknown values are ignored rather than refused."""
        kind = params.get("kind") if params.get("kind") in KINDS else None
        actions = {a for group in ACTIONS.values() for a in group}
        action = params.get("action") if params.get("action") in actions else None
        provider = (params.get("provider") or "").strip()[:64] or None
        days = params.get("days", "")
        since = utcnow() - timedelta(days=int(days)) if days.isdigit() and \
            0 < int(days) <= 3650 else None
        page = params.get("page", "1")
        return cls(kind=kind, action=action, provider=provider, since=since,
                   page=max(1, min(int(page), 10_000)) if page.isdigit() else 1)


def query_events(dbsession: Any, wanted: AuditFilter) -> tuple[list[AuditEvent], bool]:
    """The events matching ``wanted``, newest first, one page; and whether more follow."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if wanted.kind:
        query = query.where(AuditEvent.kind == wanted.kind)
    if wanted.action:
        query = query.where(AuditEvent.action == wanted.action)
    if wanted.provider:
        query = query.where(AuditEvent.provider == wanted.provider)
    if wanted.since:
        query = query.where(AuditEvent.at >= wanted.since)
    rows = list(dbsession.scalars(
        query.offset((wanted.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
