"""The demo site's own accounts (a real CMS has its own; the add-on only needs an adapter)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cms_social_login.models.meta import NAMING_CONVENTION

PBKDF2_ROUNDS = 200_000


class Base(DeclarativeBase):
    """The demo's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A site account: a password one (the demo editor) or one made by a social login."""

    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_editor: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(timezone.utc), nullable=False)

    def set_password(self, password: str) -> None:
        """Store a salted PBKDF2-SHA256 hash of ``password``."""
        salt = secrets.token_hex(16)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ROUNDS)
        self.password_hash = f"pbkdf2_sha256${PBKDF2_ROUNDS}${salt}${digest.hex()}"

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        if not self.password_hash:
            return False
        _, rounds, salt, expected = self.password_hash.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds))
        return hmac.compare_digest(digest.hex(), expected)
