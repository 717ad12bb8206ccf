"""First start of the demo: migrate the schema and create the demo editor account.

The add-on's tables come from its Alembic migrations
(:func:`cms_social_login.migrations.upgrade`); the demo's own ``demo_users`` table is
made with ``create_all``. On PostgreSQL both happen under one advisory lock, so
several worker processes starting at once on a new database do not trip over each
other. The ``editor`` / ``editor`` account is made unless ``cms_demo.demo_editor =
false`` (as in ``production.ini``); :func:`create_editor` makes a real one.
"""

from __future__ import annotations

from typing import Any

import transaction
from pyramid.settings import asbool
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from cms_social_login.migrations import upgrade
from cms_social_login.models import get_tm_session

from .models import Base, User

DEMO_EDITOR = ("editor", "editor")


def setup_database(registry: Any) -> None:
    """Upgrade the add-on's schema, create the demo's table and (demo) editor account."""
    session_factory: sessionmaker = registry["cms_social_login.dbsession_factory"]
    engine = session_factory.kw["bind"]
    with engine.begin() as connection:
        upgrade(connection)  # takes the advisory lock on PostgreSQL, held to the commit
        Base.metadata.create_all(connection)
    settings = registry.settings or {}
    if not asbool(settings.get("cms_demo.demo_editor", True)):
        return
    created = create_editor(session_factory, DEMO_EDITOR[0], DEMO_EDITOR[1],
                            display_name="Demo Editor", replace=False)
    state = "created" if created else "exists"
    print(f"Demo editor account {state}: {DEMO_EDITOR[0]} / {DEMO_EDITOR[1]} (demo only)",
          flush=True)


def create_editor(session_factory: sessionmaker, username: str, password: str,
                  display_name: str | None = None, replace: bool = True) -> bool:
    """Create the editor account ``username``; True if it was new.

    An existing account keeps its password unless ``replace`` (then it gets
    ``password`` and the editor flag).
    """
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        dbsession = get_tm_session(session_factory, tm)
        user = dbsession.scalar(select(User).where(User.username == username))
        if user is not None:
            if replace:
                user.set_password(password)
                user.is_editor = True
            return False
        user = User(username=username, display_name=display_name or username, is_editor=True)
        user.set_password(password)
        dbsession.add(user)
    return True
