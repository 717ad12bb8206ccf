"""Alembic migrations of the add-on's tables, and a Python API to run them.

The revisions live in ``cms_social_login/migrations/versions`` and are shipped with the
package. The add-on keeps its own version table, :data:`VERSION_TABLE`, so a host site
can run its own Alembic history in the same database without the two meeting.

Run them with the console script (see :mod:`cms_social_login.migrations.cli`)::

    cms-social-login-db development.ini upgrade

or from Python, e.g. at a host's first start::

    from cms_social_login.migrations import upgrade
    upgrade(engine)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from ..models.meta import metadata

__all__ = [
    "INITIAL_REVISION",
    "SCRIPT_LOCATION",
    "VERSION_TABLE",
    "alembic_config",
    "current_revision",
    "head_revision",
    "include_name",
    "migration_lock",
    "schema_differences",
    "upgrade",
]

log = logging.getLogger(__name__)

#: Where Alembic finds ``env.py``, ``script.py.mako`` and ``versions/``.
SCRIPT_LOCATION = "cms_social_login:migrations"
#: The add-on's own Alembic version table (the host may have ``alembic_version``).
VERSION_TABLE = "social_login_alembic_version"
#: The revision that creates the whole schema of the first release.
INITIAL_REVISION = "0001"
#: Key of a PostgreSQL advisory lock held while migrating, so that several processes
#: starting at once upgrade one after the other ("cms_social_login" in ASCII, cut to
#: fit a signed 64-bit integer).
ADVISORY_LOCK_KEY = 0x636D735F736F6369


def alembic_config(url: str | None = None, settings: Mapping[str, Any] | None = None,
                   connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the add-on's migrations, without an ini file.

    ``settings`` are the application's settings (``sqlalchemy.*``); ``url`` overrides
    their ``sqlalchemy.url``; ``connection`` (an open connection, possibly inside a
    transaction) is used instead of a new engine.
    """
    config = Config(stdout=sys.stdout)  # today's stdout, not the one at import time
    config.set_main_option("script_location", SCRIPT_LOCATION)
    settings = dict(settings or {})
    if url is not None:
        settings["sqlalchemy.url"] = url
    if settings.get("sqlalchemy.url"):
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url",
                               str(settings["sqlalchemy.url"]).replace("%", "%%"))
    config.attributes["settings"] = settings
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Autogenerate and comparisons look at the add-on's tables only (not the host's)."""
    if type_ == "table":
        return name in metadata.tables
    return True


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
def migration_lock(connection: Connection) -> Iterator[None]:
    """Let one process at a time migrate: hold it until ``connection`` has committed.

    PostgreSQL: a transaction-scoped advisory lock (taken now, released by the commit
    or rollback). SQLite file: an exclusive ``flock`` on ``<database>.migrate-lock``,
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

    with open(f"{database}.migrate-lock", "a+b") as lockfile:
        fcntl.flock(lockfile, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lockfile, fcntl.LOCK_UN)


#: The tables revision :data:`INITIAL_REVISION` creates.
INITIAL_TABLES = frozenset({"social_login_settings", "social_login_publish_history",
                            "social_login_identities", "social_login_states"})


def _adopt_unversioned_schema(connection: Connection, config: Config) -> None:
    """Stamp a database whose tables were made by ``create_all`` before migrations.

    All of today's tables: stamped as the newest revision (``create_all`` of today's
    models is that schema). Only the first release's tables: stamped as
    :data:`INITIAL_REVISION`, and the later revisions run. Anything else is refused.
    """
    if current_revision(connection) is not None:
        return
    present = set(metadata.tables) & set(inspect(connection).get_table_names())
    if not present:
        return
    if present == set(metadata.tables):
        revision = "head"
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
        with connectable.connect() as connection, migration_lock(connection):
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
