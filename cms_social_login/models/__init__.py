"""Database wiring: engine from settings, one session per request joined to ``pyramid_tm``."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import transaction
import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from zope.sqlalchemy.datamanager import _retryable_errors

from .activity import AuditEvent, StoredToken
from .meta import Base, metadata
from .records import (
    DRAFT,
    PUBLISHED,
    LinkedIdentity,
    LoginSettings,
    LoginState,
    PublishRecord,
    SignedInSession,
)

__all__ = [
    "AuditEvent", "StoredToken", "Base", "metadata", "DRAFT", "PUBLISHED", "LinkedIdentity",
    "LoginSettings", "LoginState", "PublishRecord", "SignedInSession", "get_engine",
    "get_session_factory",
    "get_tm_session",
]


def _sqlite_lock_is_retryable(error: Exception) -> bool:
    return "database is locked" in str(error)


# zope.sqlalchemy's documented list of errors after which a transaction may be retried
# (it ships PostgreSQL's serialization failures); SQLite's lock timeout joins it so
# pyramid_tm + pyramid_retry run the request again instead of showing an error.
if (sqlite3.OperationalError, _sqlite_lock_is_retryable) not in _retryable_errors:
    _retryable_errors.append((sqlite3.OperationalError, _sqlite_lock_is_retryable))


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def get_engine(settings: Mapping[str, object], prefix: str = "sqlalchemy.") -> Engine:
    """An engine from ``sqlalchemy.*`` settings; SQLite waits for locks instead of failing.

    A missing ``sqlalchemy.url`` is a ``ConfigurationError`` naming the setting and its
    environment variable.
    """
    if not settings.get(prefix + "url"):
        raise ConfigurationError(
            f"{prefix}url is required: set it in the ini file or in "
            "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL (e.g. postgresql+psycopg://user@host/dbname)")
    engine = engine_from_config(dict(settings), prefix)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_session_factory(engine: Engine) -> sessionmaker:
    """A session factory bound to ``engine``."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_tm_session(session_factory: sessionmaker,
                   transaction_manager: transaction.TransactionManager,
                   request=None) -> Session:
    """A session joined to ``transaction_manager``: commit and abort follow the transaction."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def includeme(config: Configurator) -> None:
    """Add ``request.social_login_dbsession`` backed by the ``sqlalchemy.url`` setting.

    A host that already has its own ``request.social_login_dbsession`` (in the same database) keeps
    it: the includer's configuration wins the conflict.
    """
    settings = config.get_settings()
    settings.setdefault("tm.manager_hook", "pyramid_tm.explicit_manager")
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = get_engine(settings)
    session_factory = get_session_factory(engine)
    config.registry["cms_social_login.dbsession_factory"] = session_factory

    def dbsession(request) -> Session:
        # request.tm is the transaction manager of this request (pyramid_tm);
        # tests pass their own through the WSGI environ.
        dbsession = request.environ.get("app.dbsession")
        if dbsession is None:
            dbsession = get_tm_session(session_factory, request.tm, request=request)
        return dbsession

    config.add_request_method(dbsession, "social_login_dbsession", reify=True)
