"""Alembic migrations of the add-on's tables, and a Python API to run them.

The revisions live in ``cms_social_login/migrations/versions`` and are shipped with the
package. The add-on keeps its own version table, :data:`VERSION_TABLE`, so a host site
can run its own Alembic history in the same database without the two meeting.

A host's own Alembic ``env.py`` leaves the add-on's tables (and its version table) alone
with :func:`host_include_name`::

    from cms_social_login.migrations import host_include_name
    context.configure(connection=connection, target_metadata=target_metadata,
                      include_name=host_include_name)

Run them with the console script (see :mod:`cms_social_login.migrations.cli`)::

    cms-social-login-db development.ini upgrade

or from Python, e.g. at a host's first start::

    from cms_social_login.migrations import upgrade
    upgrade(engine)
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from ..models import database_url
from ..models.meta import metadata
from ..schema_version import VERSION_TABLE
from .quiet import alembic_quiet_unless_configured

# Importing Alembic logs one INFO line per built-in plugin ("setup plugin ..."): no news
# for a site's start-up log.
with alembic_quiet_unless_configured():
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

__all__ = [
    "INITIAL_REVISION",
    "SCRIPT_LOCATION",
    "VERSION_TABLE",
    "alembic_config",
    "alembic_quiet_unless_configured",
    "current_revision",
    "head_revision",
    "host_include_name",
    "include_name",
    "migration_lock",
    "schema_differences",
    "upgrade",
]

log = logging.getLogger(__name__)

#: Where Alembic finds ``env.py``, ``script.py.mako`` and ``versions/``.
SCRIPT_LOCATION = "cms_social_login:migrations"
#: The revision that creates the whole schema of the first release.
INITIAL_REVISION = "0001"
#: Key of a PostgreSQL advisory lock held while migrating, so that several processes
#: starting at once upgrade one after the other ("cms_social_login" in ASCII, cut to
#: fit a signed 64-bit integer).
ADVISORY_LOCK_KEY = 0x636D735F736F6369


def alembic_config(url: str | None = None, settings: Mapping[str, Any] | None = None,
                   connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the add-on's migrations, without an ini file.

    ``settings`` are the application's settings (the database is
    :func:`~cms_social_login.models.database_url` of them); ``url`` overrides it;
    ``connection`` (an open connection, possibly inside a transaction) is used instead of
    a new engine.
    """
    config = Config(stdout=sys.stdout)  # today's stdout, not the one at import time
    config.set_main_option("script_location", SCRIPT_LOCATION)
    settings = dict(settings or {})
    if url is not None:
        settings["cms_social_login.sqlalchemy.url"] = url
    if settings.get("cms_social_login.sqlalchemy.url") or settings.get("sqlalchemy.url"):
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", database_url(settings).replace("%", "%%"))
    config.attributes["settings"] = settings
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Autogenerate and comparisons look at the add-on's tables only (not the host's)."""
    if type_ == "table":
        return name in metadata.tables
    return True


def host_include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """For the host's own ``env.py`` (``include_name=``): everything but the add-on's tables
    and its version table, so the host's ``alembic check`` and ``revision --autogenerate``
    never propose to drop them."""
    if type_ == "table":
        return name not in metadata.tables and name != VERSION_TABLE
    return True


def lock_path(database: str, lock_dir: str | None = None) -> str:
    """The lock file of the SQLite file ``database``: in ``lock_dir`` (default the system's
    temporary folder), never next to the database; named after the database's absolute
    path, so every process migrating that file takes the same lock."""
    digest = hashlib.sha256(os.path.abspath(database).encode()).hexdigest()[:16]
    return os.path.join(lock_dir or tempfile.gettempdir(),
                        f"cms_social_login-{digest}.migrate-lock")


def head_revision() -> str:
    """The newest revision shipped with this version of the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connectable: Engine | Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    if isinstance(connectable, Engine):
        with connectable.connect() as connection:
            return current_revision(connection)
    context = MigrationContext.configure(connectable, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


@contextmanager
def migration_lock(connection: Connection, lock_dir: str | None = None) -> Iterator[None]:
    """Let one process at a time migrate: hold it until ``connection`` has committed.

    PostgreSQL: a transaction-scoped advisory lock (taken now, released by the commit
    or rollback). SQLite file: an exclusive ``flock`` on :func:`lock_path` (in ``lock_dir``,
    the ``cms_social_login.migration_lock_dir`` setting, default the temporary folder),
    released when the block ends (commit inside the block). Other databases: nothing.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": ADVISORY_LOCK_KEY})
        yield
        return
    database = connection.engine.url.database
    if (connection.dialect.name != "sqlite" or not database or database == ":memory:"
            or database.startswith("file:")):
        yield
        return
    import fcntl

    with open(lock_path(database, lock_dir), "a+b") as lockfile:
        fcntl.flock(lockfile, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lockfile, fcntl.LOCK_UN)


#: The tables revision :data:`INITIAL_REVISION` creates.
INITIAL_TABLES = frozenset({"social_login_settings", "social_login_publish_history",
                            "social_login_identities", "social_login_states"})
#: The tables of the releases from revision 0003 to 0006 (revision 0007 replaced the
#: pending states' table by the used states').
TABLES_BEFORE_0007 = frozenset(
    set(metadata.tables) - {"social_login_used_states"} | {"social_login_states"})


def _adopt_unversioned_schema(connection: Connection, config: Config) -> None:
    """Stamp a database whose tables were made by ``create_all`` before migrations.

    All of today's tables: stamped as the newest revision (``create_all`` of today's
    models is that schema). The tables of a release before revision 0007 (the pending
    states' table in place of the used states'): stamped as 0006, or as 0003 when they
    predate sites (no ``site`` column), and the later revisions run. Only the first
    release's tables: stamped as :data:`INITIAL_REVISION`, and the later revisions run.
    Anything else is refused.
    """
    if current_revision(connection) is not None:
        return
    known = set(metadata.tables) | INITIAL_TABLES
    present = known & set(inspect(connection).get_table_names())
    if not present:
        return
    if present == set(metadata.tables):
        revision = "head"
    elif present == TABLES_BEFORE_0007:
        columns = {c["name"] for c in inspect(connection).get_columns("social_login_settings")}
        # Tables made before sites existed (no ``site`` key): revision 0003.
        revision = "0006" if "site" in columns else "0003"
    elif present == INITIAL_TABLES:
        revision = INITIAL_REVISION
    else:
        raise RuntimeError(
            "cms_social_login: the database has some of the add-on's tables "
            f"({', '.join(sorted(present))}) but no {VERSION_TABLE} table; "
            "bring the schema to a known revision by hand, then record it with: "
            f"cms-social-login-db <ini> stamp <revision> (the first is {INITIAL_REVISION})")
    log.warning("cms_social_login: tables made without migrations found; "
                "stamping them as revision %s", revision)
    command.stamp(config, revision)


def upgrade(connectable: Engine | Connection, revision: str = "head",
            settings: Mapping[str, Any] | None = None) -> None:
    """Upgrade the add-on's schema to ``revision``.

    Given an engine: in one transaction, under :func:`migration_lock`, so that several
    processes starting at once upgrade one after the other (the later ones find
    nothing left to do). Given a connection: inside the caller's transaction, which the
    caller commits (on SQLite the caller holds :func:`migration_lock` around it; on
    PostgreSQL the advisory lock is taken here). A database made by ``create_all``
    before migrations existed is stamped first. ``settings`` (the site's) let a
    revision read what it needs (e.g. provider URLs set in the ini).
    """
    if isinstance(connectable, Engine):
        lock_dir = (settings or {}).get("cms_social_login.migration_lock_dir") or None
        with connectable.connect() as connection, migration_lock(connection, lock_dir):
            upgrade(connection, revision, settings)
            connection.commit()
        return
    if connectable.dialect.name == "postgresql":
        connectable.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": ADVISORY_LOCK_KEY})
    config = alembic_config(settings=settings, connection=connectable)
    _adopt_unversioned_schema(connectable, config)
    command.upgrade(config, revision)


def schema_differences(connection: Connection) -> list[Any]:
    """What differs between the database and the models (``[]`` when they match).

    Alembic's ``compare_metadata`` with type comparison, on the add-on's tables only.
    """
    context = MigrationContext.configure(connection, opts={
        "compare_type": True,
        "include_name": include_name,
        "version_table": VERSION_TABLE,
    })
    return compare_metadata(context, metadata)
