"""Alembic environment of cms_social_login: the add-on's tables and version table only.

Alembic runs this file for every command. It uses the connection that
:func:`cms_social_login.migrations.alembic_config` put in ``config.attributes`` when
there is one, otherwise an engine on the add-on's database URL of the configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from cms_social_login.migrations import VERSION_TABLE, include_name
from cms_social_login.models import get_engine
from cms_social_login.models.meta import metadata

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
        # SQLite cannot ALTER most things: later revisions use batch operations.
        render_as_batch=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """``--sql`` mode: print the SQL instead of running it."""
    _configure(url=config.get_main_option("sqlalchemy.url"),
               literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    settings = dict(config.attributes.get("settings") or {})
    settings["cms_social_login.sqlalchemy.url"] = config.get_main_option("sqlalchemy.url")
    engine = get_engine(settings)
    try:
        with engine.connect() as connection:
            _run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
