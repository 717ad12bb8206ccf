"""Database wiring: the add-on's session per request, joined to ``pyramid_tm``.

Two ways, chosen by the host (see the README, "Including it in a CMS"):

* **The host's session** (one database, one session): ``config.set_social_login_dbsession(
  "request.dbsession")`` or the setting ``cms_social_login.dbsession = request.dbsession``
  (a request attribute, or the dotted name of a callable taking the request). The host's
  session is joined to the request's transaction by the host (the starter's
  ``get_tm_session``).
* **Its own engine** (the default): from ``cms_social_login.sqlalchemy.url``, falling back to
  reading the host's ``sqlalchemy.url``; a session per request joined to ``request.tm``.

Either way the add-on's code uses ``request.social_login_dbsession``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import transaction
import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver
from pyramid.registry import Registry
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from zope.interface import Interface
from zope.sqlalchemy.datamanager import _retryable_errors

from .activity import AuditEvent, StoredToken
from .meta import Base, metadata
from .records import (
    DRAFT,
    PUBLISHED,
    LinkedIdentity,
    LoginSettings,
    PublishRecord,
    SignedInSession,
    UsedLoginState,
)

__all__ = [
    "AuditEvent", "StoredToken", "Base", "metadata", "DRAFT", "PUBLISHED", "LinkedIdentity",
    "LoginSettings", "PublishRecord", "SignedInSession", "UsedLoginState", "database_url",
    "get_engine", "get_session_factory", "get_social_login_engine", "get_tm_session",
    "session_factory_for", "set_social_login_dbsession",
]

#: The add-on's own database URL (the host's ``sqlalchemy.url`` is only read as a fallback).
URL_SETTING = "cms_social_login.sqlalchemy.url"
#: Names the host's session: ``request.<attribute>`` or a dotted name of a callable.
DBSESSION_SETTING = "cms_social_login.dbsession"
#: Registry key of the session factory for work outside a request's transaction (a
#: token refresh that commits on its own, the login page's autocommit read, scripts).
SESSION_FACTORY_KEY = "cms_social_login.dbsession_factory"


def _sqlite_lock_is_retryable(error: Exception) -> bool:
    return "database is locked" in str(error)


def _retry_sqlite_locks() -> None:
    """Add SQLite's lock timeout to zope.sqlalchemy's documented list of errors after
    which a transaction may be retried (it ships PostgreSQL's serialization failures), so
    pyramid_tm + pyramid_retry run the request again instead of showing an error. Done
    when a SQLite engine is made: a worker on PostgreSQL never loads ``sqlite3``."""
    import sqlite3

    if (sqlite3.OperationalError, _sqlite_lock_is_retryable) not in _retryable_errors:
        _retryable_errors.append((sqlite3.OperationalError, _sqlite_lock_is_retryable))


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def database_url(settings: Mapping[str, object]) -> str:
    """The add-on's database URL: ``cms_social_login.sqlalchemy.url``, else the host's
    ``sqlalchemy.url`` (read, never written). Neither set is a ``ConfigurationError``."""
    url = settings.get(URL_SETTING) or settings.get("sqlalchemy.url")
    if not url:
        raise ConfigurationError(
            f"{URL_SETTING} (or the site's sqlalchemy.url) is required: set it in the ini "
            "file or in CMS_SOCIAL_LOGIN_SQLALCHEMY_URL "
            "(e.g. postgresql+psycopg://user@host/dbname)")
    return str(url)


def get_engine(settings: Mapping[str, object]) -> Engine:
    """An engine on :func:`database_url`, with the other ``sqlalchemy.*`` options of the
    settings; on SQLite every connection turns on foreign keys and waits for locks."""
    options = {key: value for key, value in settings.items()
               if key.startswith("sqlalchemy.") and key != "sqlalchemy.url"}
    options["sqlalchemy.url"] = url = database_url(settings)
    try:
        engine = engine_from_config(options, "sqlalchemy.")
    except ArgumentError as exc:  # a URL it cannot read, or a dialect it does not have
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)  # never show a password
        raise ConfigurationError(f"{URL_SETTING} (or the site's sqlalchemy.url) must be a "
                                 f"database URL, got {shown!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _retry_sqlite_locks()
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


class ISocialLoginDBSession(Interface):
    """Gives the request's session for the add-on's tables: ``source(request) -> Session``."""


class OwnSession:
    """The add-on's own engine: a session per request, joined to ``request.tm``."""

    def __init__(self, session_factory: sessionmaker) -> None:
        self.session_factory = session_factory

    def __call__(self, request: Any) -> Session:
        return get_tm_session(self.session_factory, request.tm, request=request)


class RequestAttribute:
    """The host's session, read from a request attribute (``request.dbsession``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, request: Any) -> Session:
        return getattr(request, self.name)

    def __repr__(self) -> str:
        return f"request.{self.name}"


def _session_source(config: Configurator, dbsession: object) -> Callable[[Any], Session]:
    if isinstance(dbsession, str):
        name = dbsession.strip()
        if name.startswith("request."):
            return RequestAttribute(name[len("request."):])
        dbsession = DottedNameResolver(package=config.package).resolve(name)
    if not callable(dbsession):
        raise ConfigurationError(
            f"set_social_login_dbsession: {dbsession!r} is neither 'request.<attribute>', "
            "a dotted name nor a callable taking the request")
    return dbsession


def set_social_login_dbsession(config: Configurator, dbsession: object,
                               session_factory: sessionmaker | str | None = None) -> None:
    """Keep the add-on's tables in the host's session (and so its database and transaction).

    ``dbsession`` is ``"request.<attribute>"`` (e.g. ``"request.dbsession"``), a callable
    taking the request, or the dotted name of one; the session it gives must be joined to
    the request's transaction (as the Pyramid starter's ``request.dbsession`` is).
    ``session_factory`` (optional, the host's ``sessionmaker``) opens sessions outside a
    request; by default they are made on the bind of the request's session.
    """
    source = _session_source(config, dbsession)
    factory = config.maybe_dotted(session_factory)

    def register() -> None:
        config.registry.registerUtility(source, ISocialLoginDBSession)
        if factory is not None:
            config.registry[SESSION_FACTORY_KEY] = factory

    intr = config.introspectable("social login dbsession", None, repr(source),
                                 "social login dbsession")
    config.action("cms_social_login.dbsession", register, introspectables=(intr,))


def _own_session_unless_host_gave_one(config: Configurator) -> None:
    """The default, decided after the host's configuration ran (wherever the host's
    ``set_social_login_dbsession`` sits, in ``main`` or in one of its includes)."""
    settings = config.get_settings()

    def register() -> None:
        if config.registry.queryUtility(ISocialLoginDBSession) is not None:
            return
        factory = get_session_factory(get_engine(settings))
        config.registry[SESSION_FACTORY_KEY] = factory
        config.registry.registerUtility(OwnSession(factory), ISocialLoginDBSession)

    config.action(None, register, order=1)


def social_login_dbsession(request: Any) -> Session:
    """``request.social_login_dbsession``: the session of the add-on's tables."""
    return request.registry.getUtility(ISocialLoginDBSession)(request)


def session_factory_for(request: Any) -> sessionmaker:
    """Sessions on the add-on's database outside the request's transaction."""
    factory = request.registry.get(SESSION_FACTORY_KEY)
    if factory is None:
        factory = get_session_factory(request.social_login_dbsession.get_bind(LoginSettings))
    return factory


def get_social_login_engine(registry: Registry, request: Any | None = None) -> Engine:
    """The engine of the add-on's tables (to connect outside a transaction, or to dispose
    of it when an app or script is done).

    It is the engine of the session factory the add-on registered: its own engine's, or
    the ``session_factory`` the host gave :func:`set_social_login_dbsession`. A host that
    gave its session without a session factory leaves none: then the engine is the bind
    of ``request``'s session when a request is given, else ``LookupError``. Available once
    the configuration is committed (``config.commit()`` or ``make_wsgi_app()``).
    """
    factory: sessionmaker | None = registry.get(SESSION_FACTORY_KEY)
    if factory is not None:
        return factory.kw["bind"]
    if request is not None:
        return request.social_login_dbsession.get_bind(LoginSettings)
    raise LookupError(
        "the add-on has no session factory: the host gave its session without one "
        "(set_social_login_dbsession(..., session_factory=...)), or the configuration "
        "is not committed yet")


def includeme(config: Configurator) -> None:
    """Add ``request.social_login_dbsession`` and the ``set_social_login_dbsession``
    directive; read ``cms_social_login.dbsession`` when the host names its session there."""
    settings = config.get_settings()
    settings.setdefault("tm.manager_hook", "pyramid_tm.explicit_manager")
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    config.add_directive("set_social_login_dbsession", set_social_login_dbsession)
    if settings.get(DBSESSION_SETTING):
        value = settings[DBSESSION_SETTING]
        try:
            config.set_social_login_dbsession(value)
        except (ImportError, ValueError, AttributeError, ConfigurationError) as exc:
            raise ConfigurationError(f"{DBSESSION_SETTING} = {value!r} names no session: "
                                     f"{exc}") from exc
    _own_session_unless_host_gave_one(config)
    config.add_request_method(social_login_dbsession, "social_login_dbsession", reify=True)
