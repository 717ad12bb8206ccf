"""The audit log: editor actions and sign-in outcomes, in the database and as log lines.

Rows are kept for ``cms_social_login.audit_retention_days`` (see :func:`sweep`); failed
sign-ins of visitors who are not signed in are counted in one row per provider, outcome
and cause per :data:`REPEAT_WINDOW`, so a flood of bad callbacks cannot bury real events.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pyramid.i18n import TranslationString
from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import Session

from ..events import SocialLoginFailed, SocialLoginSucceeded
from ..i18n import DOMAIN, _
from ..models import AuditEvent
from ..models.records import as_utc, utcnow
from ..sites import site_key
from ..sweeps import due

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
#: The editor actions whose ``version`` is a published record's ("Published version N"): a
#: Save's new one, and the old one a restore or re-publish took; the others' (apply,
#: preview, import) is the draft's ("Draft version N"). The two count separately.
PUBLISHED_ACTIONS = ("save", "publish-version", "restore")
#: What the audit page calls each kind and action (a new action adds its words here).
KIND_LABELS = {EDITOR: _("Editor action"), SIGNIN: _("Sign-in")}
ACTION_LABELS = {
    "apply": _("Draft stored (Apply)"),
    "save": _("Published (Save)"),
    "preview": _("Draft stored for Preview"),
    "restore": _("Old version restored into the draft"),
    "publish-version": _("Old version published again"),
    "verify": _("Credentials checked"),
    "test-login": _("Test login"),
    "import": _("Settings imported as the draft"),
    "success": _("Signed in"),
    "denied": _("Cancelled at the provider"),
    "error": _("Sign-in failed"),
    "refused": _("Refused by this site's rules"),
    "invalid-state": _("Expired, reused or unknown login link"),
}
PAGE_SIZE = 50
#: The per-provider counts of the audit page count at most this many of the newest
#: matching sign-ins.
COUNT_CAP = 1000
#: A CSV export holds at most this many rows (the newest).
CSV_MAX_ROWS = 20_000
#: Repeats of one anonymous failure within this time share one row (with a count).
REPEAT_WINDOW = timedelta(hours=1)
#: A process sweeps old rows from a write path at most this often (seconds).
SWEEP_INTERVAL = 600
#: Rows one request deletes at most; the command and :func:`sweep` delete them all.
SWEEP_BATCH = 1000
#: Registry key of the process's last sweep (``time.monotonic()``).
SWEPT_AT_KEY = "cms_social_login.audit_swept_at"
#: What this module remembers in a process between requests (see
#: :func:`cms_social_login.cached_state.forget_cached_state`).
PROCESS_STATE_KEYS = (SWEPT_AT_KEY,)


#: What :func:`_log_line` writes of an event.
LOGGED_FIELDS = ("kind", "action", "provider", "actor", "detail", "at")
#: A new event, built once (an event binds only its values).
ADD_EVENT = insert(AuditEvent)


def _log_line(event: Mapping[str, Any]) -> None:
    audit_log.info(json.dumps({
        "event": "cms_social_login.audit", "kind": event["kind"], "action": event["action"],
        "provider": event["provider"], "actor": event["actor"], "detail": event["detail"],
        "at": as_utc(event["at"]).isoformat()}, sort_keys=True, default=str))


def record(request: Any, kind: str, action: str, *, provider: str | None = None,
           detail: Mapping[str, Any] | None = None, actor: str | None = None) -> None:
    """Insert an event in this request's transaction and write its log line.

    ``detail`` must hold no secret and no token: callers pass field names, versions,
    counts and plain reasons only. Old rows are swept now and then (see
    :func:`sweep_if_due`).
    """
    # PostgreSQL text cannot hold NUL: a provider name from the URL may (a 500 otherwise).
    provider = provider.replace("\x00", "\ufffd") if provider is not None else None
    event = {"site": site_key(request), "kind": kind, "action": action, "provider": provider,
             "actor": actor if actor is not None else request.authenticated_userid,
             "detail": dict(detail or {}), "at": utcnow()}
    request.social_login_dbsession.execute(ADD_EVENT, event)
    _log_line(event)
    sweep_if_due(request)


def _message_detail(message: object) -> dict[str, Any]:
    """A visitor's message, stored so the audit page can show it in the editor's language."""
    if not isinstance(message, TranslationString):
        return {"msgid": str(message)}
    stored: dict[str, Any] = {"msgid": str(message), "domain": message.domain}
    if message.mapping:
        stored["mapping"] = {key: str(value) for key, value in message.mapping.items()}
    return stored


def _repeat_of(dbsession: Session, site: str, action: str, provider: str | None,
               reason: str, actor: str | None, now: datetime) -> AuditEvent | None:
    """The row of the same failure of the same actor (None: anonymous visitors) on ``site``
    in the current window, locked for the count."""
    since = now - REPEAT_WINDOW
    same_actor = AuditEvent.actor.is_(None) if actor is None else AuditEvent.actor == actor
    candidates = dbsession.scalars(
        select(AuditEvent)
        .where(AuditEvent.site == site, AuditEvent.kind == SIGNIN, AuditEvent.action == action,
               AuditEvent.provider == provider, same_actor, AuditEvent.at >= since)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(20).with_for_update())
    for row in candidates:
        first = row.detail.get("first_at")
        try:
            started = as_utc(datetime.fromisoformat(first)) if isinstance(first, str) else None
        except ValueError:
            started = None
        if row.detail.get("reason") == reason and started is not None and started >= since:
            return row
    return None


def on_login_succeeded(event: SocialLoginSucceeded) -> None:
    """Subscriber: a sign-in through a provider worked."""
    record(event.request, SIGNIN, "success", provider=event.provider_name, actor=event.userid,
           detail={"new_account": event.created})


def on_login_failed(event: SocialLoginFailed) -> None:
    """Subscriber: a sign-in through a provider failed (the reason, never a token).

    A failure adds to the row of the same failure (provider, outcome, cause) of the same
    actor (a signed-in user, or anonymous visitors together) of the last
    :data:`REPEAT_WINDOW` instead of writing a new one.
    """
    request = event.request
    provider = event.provider_name[:64].replace("\x00", "\ufffd")
    reason = event.cause[:500]
    detail = {"reason": reason, "message": _message_detail(event.reason)}
    actor = request.authenticated_userid
    now = utcnow()
    repeat = _repeat_of(request.social_login_dbsession, site_key(request), event.outcome,
                        provider, reason, actor, now)
    if repeat is None:
        record(request, SIGNIN, event.outcome, provider=provider, actor=actor,
               detail={**detail, "count": 1, "first_at": now.isoformat()})
        return
    repeat.detail = {**repeat.detail, "count": int(repeat.detail.get("count", 1)) + 1}
    repeat.at = now
    _log_line({name: getattr(repeat, name) for name in LOGGED_FIELDS})


# --------------------------------------------------------------------------- retention


def sweep(dbsession: Session, retention_days: int, *, batch: int | None = None,
          now: datetime | None = None) -> int:
    """Delete the rows older than ``retention_days`` (all of them, or one ``batch``).

    0 days keeps everything. Runs in the caller's transaction; the number of rows deleted.
    A host may call it from its own scheduler; ``cms-social-login-db INI sweep-audit``
    runs it from the command line.
    """
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    old = select(AuditEvent.id).where(AuditEvent.at < cutoff)
    deleted = 0
    while True:
        ids = list(dbsession.scalars(old.order_by(AuditEvent.id).limit(batch or SWEEP_BATCH)))
        if ids:
            dbsession.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
            deleted += len(ids)
        if batch is not None or len(ids) < SWEEP_BATCH:
            return deleted


def sweep_if_due(request: Any) -> int:
    """One batch of :func:`sweep` when this process has not swept for SWEEP_INTERVAL."""
    registry = request.registry
    if not due(registry, SWEPT_AT_KEY, SWEEP_INTERVAL, time.monotonic()):
        return 0
    days = registry.social_login_settings.audit_retention_days
    return sweep(request.social_login_dbsession, days, batch=SWEEP_BATCH)


# --------------------------------------------------------------------------- reading


def _whole_number(raw: str, digits: int) -> bool:
    """Whether ``raw`` is 1 to ``digits`` ASCII digits (``"²"`` passes ``str.isdigit``
    but not ``int``)."""
    return 0 < len(raw) <= digits and raw.isascii() and raw.isdigit()


@dataclass(frozen=True)
class AuditFilter:
    """What the editor's audit page shows (of one site's events)."""

    site: str
    kind: str | None = None
    action: str | None = None
    provider: str | None = None
    since: datetime | None = None
    page: int = 1
    days: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str], site: str) -> AuditFilter:
        """Read the page's query (on ``site``); unknown values are ignored rather than
        refused."""
        kind = params.get("kind") if params.get("kind") in KINDS else None
        actions = {a for group in ACTIONS.values() for a in group}
        action = params.get("action") if params.get("action") in actions else None
        provider = str(params.get("provider") or "").strip().lower()[:64] or None
        raw_days = str(params.get("days", ""))
        days = (int(raw_days) if _whole_number(raw_days, 4) and 0 < int(raw_days) <= 3650
                else None)
        page = str(params.get("page", "1"))
        return cls(site=site, kind=kind, action=action, provider=provider, days=days,
                   since=utcnow() - timedelta(days=days) if days else None,
                   page=max(1, min(int(page), 10_000)) if _whole_number(page, 9) else 1)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links, the CSV export and the pager)."""
        values = {"kind": self.kind, "action": self.action, "provider": self.provider,
                  "days": str(self.days) if self.days else None}
        return {key: value for key, value in values.items() if value}

    def where(self, query: Any, *, with_provider: bool = True) -> Any:
        """``query`` narrowed to the site and the filters (the provider ignoring case)."""
        query = query.where(AuditEvent.site == self.site)
        if self.kind:
            query = query.where(AuditEvent.kind == self.kind)
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.provider and with_provider:
            query = query.where(func.lower(AuditEvent.provider) == self.provider)
        if self.since:
            query = query.where(AuditEvent.at >= self.since)
        return query


def query_events(dbsession: Session, wanted: AuditFilter) -> tuple[list[AuditEvent], bool]:
    """The events matching ``wanted``, newest first, one page; and whether more follow."""
    query = wanted.where(select(AuditEvent)).order_by(AuditEvent.at.desc(),
                                                      AuditEvent.id.desc())
    rows = list(dbsession.scalars(
        query.offset((wanted.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def export_events(dbsession: Session, wanted: AuditFilter) -> list[AuditEvent]:
    """Every event matching ``wanted`` (the newest CSV_MAX_ROWS), newest first."""
    query = wanted.where(select(AuditEvent)).order_by(AuditEvent.at.desc(),
                                                      AuditEvent.id.desc())
    return list(dbsession.scalars(query.limit(CSV_MAX_ROWS)))


@dataclass
class ProviderCount:
    """How many sign-ins and failed sign-ins one provider has (``at_least``: counted over
    the newest :data:`COUNT_CAP` sign-ins only, so the true numbers may be higher)."""

    provider: str
    signed_in: int = 0
    failed: int = 0
    at_least: bool = False


def provider_counts(dbsession: Session, wanted: AuditFilter) -> list[ProviderCount]:
    """Per provider, the sign-ins matching ``wanted`` but for its provider filter, among
    the newest :data:`COUNT_CAP` of them (the page's cost does not grow with the log;
    when there are more, every count is marked ``at_least``).

    A row that counts repeated failures counts as often as it happened. The database
    adds them up: one row per provider comes back, not the :data:`COUNT_CAP` rows.
    """
    times = func.coalesce(AuditEvent.detail["count"].as_integer(), 1)
    newest = wanted.where(
        select(AuditEvent.provider, AuditEvent.action, times.label("times"),
               func.row_number().over(order_by=AuditEvent.at.desc()).label("number"))
        .where(AuditEvent.kind == SIGNIN, AuditEvent.provider.is_not(None))
        .order_by(AuditEvent.at.desc()).limit(COUNT_CAP + 1),
        with_provider=False).subquery()
    counted = newest.c.number <= COUNT_CAP

    def total(worked: Any) -> Any:
        return func.sum(case((counted & worked, newest.c.times), else_=0))

    rows = list(dbsession.execute(
        select(newest.c.provider, total(newest.c.action == "success"),
               total(newest.c.action != "success"), func.min(newest.c.number),
               func.max(newest.c.number))
        .group_by(newest.c.provider)))
    at_least = any(last > COUNT_CAP for *_, last in rows)
    return sorted((ProviderCount(provider, int(signed_in), int(failed), at_least)
                   for provider, signed_in, failed, first, _ in rows if first <= COUNT_CAP),
                  key=lambda entry: entry.provider)


# --------------------------------------------------------------------------- in words


@dataclass
class EventInWords:
    """An audit row as people read it: every part a message or plain text."""

    kind: Any
    action: Any
    details: list[Any] = field(default_factory=list)


def _humane(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").capitalize()


def _stored_message(stored: Mapping[str, Any]) -> TranslationString | None:
    msgid = stored.get("msgid")
    if not isinstance(msgid, str) or not msgid:
        return None
    mapping = stored.get("mapping")
    return TranslationString(msgid, domain=stored.get("domain") or DOMAIN,
                             mapping=dict(mapping) if isinstance(mapping, dict) else None)


def _names(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def in_words(event: AuditEvent, change_words: Any = None) -> EventInWords:
    """``event`` in words: its kind, action and details as messages to translate.

    ``change_words`` turns one stored change (``"Bitbucket: Enabled"``) into a message;
    by default it stays as stored.
    """
    words = EventInWords(kind=KIND_LABELS.get(event.kind, _humane(event.kind)),
                         action=ACTION_LABELS.get(event.action, _humane(event.action)))
    detail = event.detail if isinstance(event.detail, dict) else {}
    message = detail.get("message")
    if isinstance(message, dict) and _stored_message(message) is not None:
        words.details.append(_stored_message(message))
    elif detail.get("reason"):  # rows written before messages were stored
        words.details.append(str(detail["reason"]))
    count = detail.get("count")
    if isinstance(count, int) and count > 1:
        try:
            first = as_utc(datetime.fromisoformat(str(detail.get("first_at"))))
        except ValueError:
            first = as_utc(event.at)
        words.details.append(_("${count} times since ${first} (UTC)", mapping={
            "count": count, "first": first.strftime("%Y-%m-%d %H:%M")}))
    for key, value in detail.items():
        if key in ("message", "reason", "count", "first_at"):
            continue
        if key == "version":
            words.details.append(
                _("Published version ${version}", mapping={"version": value})
                if event.action in PUBLISHED_ACTIONS
                else _("Draft version ${version}", mapping={"version": value}))
        elif key == "changed":
            if value:
                changes = [change_words(item) if change_words else item for item in value]
                words.details.append(_("Changed:"))
                words.details.extend(changes)
            else:
                words.details.append(_("Nothing changed"))
        elif key == "new_account":
            words.details.append(_("New account created") if value
                                 else _("Existing account"))
        elif key == "result" and event.action == "test-login":
            words.details.append({
                "works": _("The provider signed the test account in"),
                "refused": _("The account does not pass this tab's access rule"),
                "denied": _("Cancelled at the provider"),
            }.get(value, _("The test login failed")))
        elif key == "from":
            words.details.append(_("From the preview") if value == "preview"
                                 else _("From the tab"))
        elif key == "result":
            words.details.append({
                "works": _("The provider accepted the credentials"),
                "refused": _("The provider refused the credentials"),
            }.get(value, _("The provider could not be asked")))
        elif key == "missing_providers":
            if value:
                words.details.append(_("Kept but inactive (not installed): ${providers}",
                                       mapping={"providers": _names(value)}))
        elif key == "imported":
            words.details.append(_("Imported: ${providers}",
                                   mapping={"providers": _names(value) or "—"}))
        elif key == "skipped":
            if value:
                words.details.append(_("Skipped (not installed): ${providers}",
                                       mapping={"providers": _names(value)}))
        else:
            words.details.append(f"{_humane(key)}: {_names(value)}")
    return words


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet will not run as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe (OWASP, "CSV Injection").
    """
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(rows: Iterable[Iterable[object]]) -> list[list[str]]:
    """Every cell of ``rows`` through :func:`csv_cell`."""
    return [[csv_cell(value) for value in row] for row in rows]
