"""Each provider's status in words, for the tab list and the Login system page.

The words come from the draft and the published document ("Live", "Set up, not shown",
"Draft changes", "Not set up") and from the audit log's sign-in records ("Live; last
sign-in failed: ...", sign-ins in the last 7 days, the last one's time). Only a sign-in
that failed with an error counts as a failure of the provider; a visitor's Cancel at the
provider, an account refused by the tab's own rule and an expired or reused login link
are the visitor's doing or the site's rule working, so they never change the status. The
audit log is read with one statement for all providers (:func:`sign_in_activity`),
whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import AuditEvent
from ..models.records import as_utc, utcnow
from ..providers.base import Provider
from .audit import SIGNIN
from .login_settings import ProviderConfig

#: How far back "sign-ins in the last 7 days" counts.
ACTIVITY_DAYS = 7
#: The sign-in outcomes that tell whether the provider works (see the module's docstring).
TELLING_OUTCOMES = ("success", "error")

LIVE = "live"
SET_UP_NOT_SHOWN = "set-up-not-shown"
DRAFT_CHANGES = "draft-changes"
NOT_SET_UP = "not-set-up"
FAILING = "failing"


@dataclass(frozen=True)
class SignInActivity:
    """One provider's sign-ins as the audit log has them."""

    recent_successes: int = 0
    last_success_at: datetime | None = None
    last_action: str | None = None
    last_cause: str = ""


@dataclass(frozen=True)
class ProviderStatus:
    """What the editor reads about one provider: ``key`` (one of the constants above,
    for styling and tests), ``words`` and ``activity`` (translation strings)."""

    name: str
    key: str
    words: Any
    activity: Any


def sign_in_activity(dbsession: Session, site: str, names: Iterable[str]
                     ) -> dict[str, SignInActivity]:
    """Every named provider's sign-ins on ``site``, read in ONE statement: per provider
    the number of successes in the last :data:`ACTIVITY_DAYS` days, the time of the last
    success, and the outcome of the latest sign-in that succeeded or failed with an error
    (joined on the highest id; cancels, refusals and bad login links are left out)."""
    names = list(names)
    if not names:
        return {}
    since = utcnow() - timedelta(days=ACTIVITY_DAYS)
    success = AuditEvent.action == "success"
    per_provider = (
        select(AuditEvent.provider.label("provider"),
               func.max(AuditEvent.id).label("last_id"),
               func.count(case((and_(success, AuditEvent.at >= since), 1))).label("recent"),
               func.max(case((success, AuditEvent.at))).label("last_success"))
        .where(AuditEvent.site == site, AuditEvent.kind == SIGNIN,
               AuditEvent.provider.in_(names), AuditEvent.action.in_(TELLING_OUTCOMES))
        .group_by(AuditEvent.provider)
        .subquery())
    rows = dbsession.execute(
        select(per_provider.c.provider, per_provider.c.recent, per_provider.c.last_success,
               AuditEvent.action, AuditEvent.detail)
        .join(AuditEvent, AuditEvent.id == per_provider.c.last_id))
    activity = {}
    for provider, recent, last_success, action, detail in rows:
        if isinstance(last_success, str):  # SQLite may hand back the stored text
            last_success = datetime.fromisoformat(last_success)
        cause = detail.get("reason") if isinstance(detail, dict) else None
        activity[provider] = SignInActivity(
            recent_successes=int(recent or 0),
            last_success_at=as_utc(last_success) if last_success else None,
            last_action=action, last_cause=cause if isinstance(cause, str) else "")
    return activity


def failure_in_words(provider: Provider, cause: str) -> Any:
    """Why a sign-in failed with an error, for the editor: from the operator's cause in the
    audit record (which never holds a secret)."""
    title = {"title": provider.title}
    lowered = cause.lower()
    if "client credentials" in lowered or "invalid_client" in lowered \
            or "unauthorized_client" in lowered:
        return _("${title} refused the Client ID or Client Secret", mapping=title)
    if "invalid_grant" in lowered:
        return _("${title} did not accept the login code", mapping=title)
    if "timed out" in lowered or "connect" in lowered:
        return _("${title} could not be reached", mapping=title)
    if "decrypt" in lowered:
        return _("the stored secret cannot be read with the site's secret key")
    return _("${title} answered with an error", mapping=title)


def _part(config: ProviderConfig) -> tuple[Any, ...]:
    """What of a tab reaches visitors (the switch's history and empty fields aside)."""
    return (config.enabled, config.position, config.link_by_email,
            {k: v for k, v in config.values.items() if v}, dict(config.secrets))


def provider_statuses(providers: Iterable[Provider], draft: Mapping[str, Any],
                      published: Mapping[str, Any], activity: Mapping[str, SignInActivity],
                      ) -> dict[str, ProviderStatus]:
    """Each provider's status, from the ``draft`` and ``published`` documents and the
    ``activity`` of :func:`sign_in_activity`."""
    statuses = {}
    for provider in providers:
        mine = ProviderConfig.from_document(draft, provider.name)
        live = ProviderConfig.from_document(published, provider.name)
        is_live = live.enabled and live.is_complete(provider)
        seen = activity.get(provider.name, SignInActivity())
        if is_live:
            key = DRAFT_CHANGES if _part(mine) != _part(live) else LIVE
        elif mine.enabled and mine.is_complete(provider):
            key = DRAFT_CHANGES
        elif mine.set_up_but_hidden(provider):
            key = SET_UP_NOT_SHOWN
        else:
            key = NOT_SET_UP
        words = {LIVE: _("Live"), DRAFT_CHANGES: _("Draft changes"),
                 SET_UP_NOT_SHOWN: _("Set up, not shown"), NOT_SET_UP: _("Not set up")}[key]
        if is_live and seen.last_action == "error":
            # Still live (visitors see the button), with the failure beside it.
            reason = failure_in_words(provider, seen.last_cause)
            words = (_("Live; last sign-in failed: ${reason}", mapping={"reason": reason})
                     if key == LIVE else
                     _("Draft changes; last sign-in failed: ${reason}",
                       mapping={"reason": reason}))
            key = FAILING
        statuses[provider.name] = ProviderStatus(
            name=provider.name, key=key, words=words, activity=_activity_words(seen, is_live))
    return statuses


def _activity_words(seen: SignInActivity, is_live: bool) -> Any:
    if seen.last_action is None:
        return _("No sign-ins yet") if is_live else None
    last = seen.last_success_at.strftime("%Y-%m-%d %H:%M UTC") \
        if seen.last_success_at else None
    if last is None:
        return _("Sign-ins in the last 7 days: ${count}", mapping={"count": 0})
    return _("Sign-ins in the last 7 days: ${count}; the last at ${when}",
             mapping={"count": seen.recent_successes, "when": last})
