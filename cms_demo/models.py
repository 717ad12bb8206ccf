"""The demo site's database and its own accounts (a real CMS has its own; the add-on only
needs an adapter).

The demo keeps its accounts and the add-on's tables in one database, the one the add-on's
setting names (``cms_social_login.sqlalchemy.url``, i.e. ``CMS_SOCIAL_LOGIN_SQLALCHEMY_URL``,
else ``sqlalchemy.url``), and hands its ``request.dbsession`` to the add-on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, MetaData, String
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from cms_social_login.models import get_engine, get_session_factory, get_tm_session
from cms_social_login.models.meta import DEFAULT_SITE, NAMING_CONVENTION

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
    #: An editor of the default site (the other sites' editors: :class:`SiteEditor`).
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


class SiteEditor(Base):
    """An account that edits one of the extra sites (see :mod:`cms_demo.sites`)."""

    __tablename__ = "demo_site_editors"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_users.id", ondelete="CASCADE"),
                                         primary_key=True)


def user_of(dbsession: Session, userid: object) -> User | None:
    """The account a userid (its id as digits) names, or None for any other value."""
    if not isinstance(userid, str) or not (userid.isascii() and userid.isdigit()):
        return None
    return dbsession.get(User, int(userid))


def is_editor_of(dbsession: Session, user: User, site: str) -> bool:
    """Whether ``user`` edits ``site`` (the default site: the ``is_editor`` flag)."""
    if site == DEFAULT_SITE:
        return user.is_editor
    return dbsession.get(SiteEditor, (site, user.id)) is not None


def demo_engine(registry: Registry) -> Engine:
    """The engine of the demo's own database (``registry["dbsession_factory"]``'s), which
    the add-on shares once the configuration is committed (see
    :func:`cms_social_login.models.get_social_login_engine`)."""
    return registry["dbsession_factory"].kw["bind"]


def includeme(config: Configurator) -> None:
    """The demo's engine, ``registry["dbsession_factory"]`` and ``request.dbsession``."""
    settings = config.get_settings()
    settings.setdefault("tm.manager_hook", "pyramid_tm.explicit_manager")
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    session_factory = get_session_factory(get_engine(settings))
    config.registry["dbsession_factory"] = session_factory

    def dbsession(request: Any) -> Session:
        return get_tm_session(session_factory, request.tm, request=request)

    config.add_request_method(dbsession, reify=True)
