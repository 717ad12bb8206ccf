"""First start of the demo: migrate the schema and create the demo editor account.

The add-on's tables come from its Alembic migrations
(:func:`cms_social_login.migrations.upgrade`); the demo's own ``demo_users`` table is
made with ``create_all``. Both happen in one transaction under the migration lock
(an advisory lock on PostgreSQL, a lock file on SQLite), so several worker processes
starting at once on a new database do not trip over each other. The ``editor`` /
``editor`` account (the default site's) is made unless ``cms_demo.demo_editor = false``
(as in ``production.ini``), and with ``cms_demo.site_editors = true`` (as in
``development.ini``) ``editor-a`` / ``editor-a`` and ``editor-b`` / ``editor-b`` too (of
``site-a.localhost`` and ``site-b.localhost``, see :mod:`cms_demo.sites`);
:func:`create_editor` makes a real one.
"""

from __future__ import annotations

from typing import Any

import transaction
from pyramid.settings import asbool
from sqlalchemy import inspect, select
from sqlalchemy.orm import sessionmaker

from cms_social_login.models import get_tm_session
from cms_social_login.schema_version import schema_is_current
from cms_social_login.sites import DEFAULT_SITE, Site

from .models import Base, SiteEditor, User, demo_engine
from .sites import SITE_EDITORS

DEMO_EDITOR = ("editor", "editor")


def setup_database(registry: Any) -> None:
    """Upgrade the add-on's schema, create the demo's table and (demo) editor account."""
    session_factory: sessionmaker = registry["dbsession_factory"]
    engine = demo_engine(registry)
    settings = registry.settings or {}
    lock_dir = settings.get("cms_social_login.migration_lock_dir") or None
    with engine.connect() as connection:
        ready = schema_is_current(connection) and inspect(connection).has_table(
            User.__tablename__)
    if not ready:  # Alembic is imported only when there is something to migrate
        from cms_social_login.migrations import (
            alembic_quiet_unless_configured,
            migration_lock,
            upgrade,
        )

        with engine.connect() as connection, migration_lock(connection, lock_dir), \
                alembic_quiet_unless_configured():
            upgrade(connection, settings=settings)
            Base.metadata.create_all(connection)
            connection.commit()
    if not asbool(settings.get("cms_demo.demo_editor", True)):
        return
    accounts = [(DEFAULT_SITE, *DEMO_EDITOR)]
    if asbool(settings.get("cms_demo.site_editors", False)):
        accounts += SITE_EDITORS
    for site, username, password in accounts:
        created = create_editor(session_factory, username, password, replace=False,
                                display_name=f"Demo Editor ({site})" if site != DEFAULT_SITE
                                else "Demo Editor", site=site)
        state = "created" if created else "exists"
        where = "" if site == DEFAULT_SITE else f" of {site}"
        print(f"Demo editor account{where} {state}: {username} / {password} (demo only)",
              flush=True)


def create_editor(session_factory: sessionmaker, username: str, password: str,
                  display_name: str | None = None, replace: bool = True,
                  site: str = DEFAULT_SITE) -> bool:
    """Create the account ``username``, an editor of ``site``; True if it was new.

    An existing account keeps its password unless ``replace`` (then it gets
    ``password`` and becomes an editor of ``site``).
    """
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        dbsession = get_tm_session(session_factory, tm)
        user = dbsession.scalar(select(User).where(User.username == username))
        if user is not None:
            if replace:
                user.set_password(password)
                _make_editor(dbsession, user, site)
            return False
        user = User(username=username, display_name=display_name or username)
        user.set_password(password)
        dbsession.add(user)
        dbsession.flush()
        _make_editor(dbsession, user, site)
    return True


def _make_editor(dbsession: Any, user: User, site: str) -> None:
    if site == DEFAULT_SITE:
        user.is_editor = True
    elif dbsession.get(SiteEditor, (site, user.id)) is None:
        dbsession.add(SiteEditor(site=site, user_id=user.id))


def _site_key(value: str) -> str:
    """``--site``: a key the site resolver can answer (an editor of any other string would
    edit no site)."""
    import argparse

    try:
        return Site(value).key
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def create_editor_command(argv: list[str] | None = None) -> int:
    """``python -m cms_demo.bootstrap production.ini USERNAME``: make an editor account.

    The password comes from ``CMS_DEMO_EDITOR_PASSWORD`` or is asked for; the database
    must be migrated (the site's first start or ``cms-social-login-db ... upgrade``).
    """
    import argparse
    import getpass
    import os

    from pyramid.paster import get_appsettings

    from cms_social_login.models import get_engine, get_session_factory
    from cms_social_login.settings import apply_environment

    parser = argparse.ArgumentParser(prog="python -m cms_demo.bootstrap",
                                     description="Create or reset a demo site editor.")
    parser.add_argument("config_uri")
    parser.add_argument("username")
    parser.add_argument("--display-name")
    parser.add_argument("--site", default=DEFAULT_SITE, type=_site_key,
                        help="the site the account edits (default: the default site)")
    args = parser.parse_args(argv)
    password = os.environ.get("CMS_DEMO_EDITOR_PASSWORD") or getpass.getpass("Password: ")
    if len(password) < 8:
        parser.error("the password must have at least 8 characters")
    settings = dict(get_appsettings(args.config_uri))
    apply_environment(settings)
    engine = get_engine(settings)
    try:
        created = create_editor(get_session_factory(engine), args.username, password,
                                display_name=args.display_name, site=args.site)
    finally:
        engine.dispose()
    print(f"editor {args.username} {'created' if created else 'updated'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(create_editor_command())
