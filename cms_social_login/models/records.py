"""The add-on's tables: login settings (draft / published), history, identities, used SSO
states, signed-in sessions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, site_column

DRAFT = "draft"
PUBLISHED = "published"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC (SQLite returns naive UTC datetimes; PostgreSQL aware ones in the
    connection's time zone)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


class LoginSettings(Base):
    """One stage (draft or published) of the whole *Login setting* document.

    ``document`` maps each provider name to ``{"enabled": bool, "position": int,
    "values": {field: str}, "secrets": {field: encrypted token}}``. ``version`` grows by
    one on every write and is the optimistic lock: a write that read an older version is
    refused instead of silently overwriting someone else's change.
    """

    __tablename__ = "social_login_settings"

    site: Mapped[str] = site_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(255))

    __mapper_args__ = {"version_id_col": version}


class PublishRecord(Base):
    """One Save: who published which version of the document, and when."""

    __tablename__ = "social_login_publish_history"
    __table_args__ = (Index("ix_social_login_publish_history_site_id", "site", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = site_column()
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                   nullable=False, index=True)
    published_by: Mapped[str | None] = mapped_column(String(255))


class LinkedIdentity(Base):
    """A provider account linked to a local user.

    Linked on one site (``site``): the same person on two sites is two local accounts
    unless the host's user adapter links them.

    A person at a provider is the provider's stable user id *as issued by one issuer or
    instance* (OpenID Connect Core 1.0 §5.7: only ``iss`` and ``sub`` together identify
    an end-user): ``issuer`` is what :meth:`Provider.identity_issuer` gives for the tab's
    values (an OpenID Connect issuer, a GitLab server's URL, the origin of an API).
    User id 5 at one GitLab server and user id 5 at another are two people.
    """

    __tablename__ = "social_login_identities"
    __table_args__ = (UniqueConstraint("site", "provider", "issuer", "provider_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = site_column()
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    issuer: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    provider_user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    userid: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 nullable=False)
    last_login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    nullable=False)


class UsedLoginState(Base):
    """A login state that came back to the site: its hash, so that it works only once.

    A pending login lives in the visitor's session until its callback
    (:mod:`cms_social_login.services.sso`); the callback inserts the state's hash here in
    its transaction, so a second callback with the same state (a replayed URL with a
    copy of the session cookie, two requests at once) finds it taken and fails. A row is
    useless once the state would have expired anyway (``cms_social_login.state_ttl``
    after the login started): rows older than that are swept.
    """

    __tablename__ = "social_login_used_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                              index=True)


class SignedInSession(Base):
    """One signed-in browser session, so that logout can end it on the server.

    The session cookie holds a random token; only its hash is stored here. A cookie
    whose token has no row (logged out, "Log out everywhere", expired and swept) is no
    longer signed in, even if it was copied before. ``expires_at`` is the absolute end
    (``cms_social_login.session_lifetime`` after sign-in) that activity never extends.
    A session belongs to the site whose host it was made on (``site``).
    """

    __tablename__ = "social_login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = site_column()
    userid: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 index=True)
