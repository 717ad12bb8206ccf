"""What happened (the audit log) and what a login left behind (stored provider tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, site_column
from .records import utcnow


class AuditEvent(Base):
    """One editor action on the login settings, or one sign-in outcome.

    ``kind`` is ``"editor"`` or ``"signin"``; ``action`` the editor's button (apply,
    save, restore, verify) or the sign-in's outcome (success, denied, error, refused).
    ``detail`` never holds a secret or a token.
    """

    __tablename__ = "social_login_audit"
    __table_args__ = (
        Index("ix_social_login_audit_site_at", "site", "at"),
        # The audit page filtered by a provider (migration 0005).
        Index("ix_social_login_audit_site_provider_at", "site", func.lower(text("provider")),
              "at", "id"),
        # The audit page's counts of sign-ins by outcome (migration 0006).
        Index("ix_social_login_audit_site_kind_action_at", "site", "kind", "action", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = site_column()
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                         nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class StoredToken(Base):
    """A provider's access and refresh token for one linked identity, encrypted.

    It belongs to the identity's site (through ``identity_id``).

    ``version`` is the optimistic lock that makes a refresh atomic: two processes
    refreshing at once cannot both store a rotated refresh token.
    """

    __tablename__ = "social_login_tokens"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("social_login_identities.id", ondelete="CASCADE"), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, nullable=False)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scopes: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __mapper_args__ = {"version_id_col": version}
