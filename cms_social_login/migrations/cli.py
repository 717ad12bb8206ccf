"""``cms-social-login-db``: create or upgrade the add-on's tables from an ini file.

Usage::

    cms-social-login-db development.ini upgrade          # to the newest revision
    cms-social-login-db production.ini current           # where the database is
    cms-social-login-db production.ini history
    cms-social-login-db production.ini downgrade 0001
    cms-social-login-db production.ini stamp 0001        # mark, run nothing
    cms-social-login-db production.ini upgrade --sql     # print the SQL only
    cms-social-login-db production.ini sweep-audit       # drop audit rows past retention

The database is the add-on's: ``cms_social_login.sqlalchemy.url`` of the ini file's
``[app:main]`` section (or ``CMS_SOCIAL_LOGIN_SQLALCHEMY_URL``), else its ``sqlalchemy.url``.
On SQLite the lock file goes to ``cms_social_login.migration_lock_dir`` (default: the
system's temporary folder).
Developers of the add-on make a new revision with ``revision -m "what" --autogenerate``.
The console shows the command's result and warnings only; ``-v`` logs as the ini says.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from alembic import command
from pyramid.exceptions import ConfigurationError
from pyramid.paster import get_appsettings
from sqlalchemy.orm import Session

from ..models import get_engine
from ..scripts.console import configure_logging
from ..services.audit import sweep
from ..settings import apply_environment, audit_retention_days
from . import alembic_config, current_revision, head_revision, upgrade

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cms-social-login-db",
        description="Create or upgrade the cms_social_login tables (Alembic migrations).")
    parser.add_argument("config_uri", help="the ini file, e.g. production.ini")
    parser.add_argument("--app", default="main", help="the [app:NAME] section (main)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log as the ini file configures (default: warnings only)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upgrade", help="upgrade to REVISION (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--sql", action="store_true", help="print the SQL, run nothing")
    down = commands.add_parser("downgrade", help="downgrade to REVISION (base: drop all)")
    down.add_argument("revision")
    down.add_argument("--sql", action="store_true", help="print the SQL, run nothing")
    stamp = commands.add_parser("stamp", help="record REVISION without running it")
    stamp.add_argument("revision")
    commands.add_parser("current", help="show the database's revision")
    commands.add_parser("history", help="list the revisions")
    commands.add_parser("check", help="fail if the models differ from the migrations")
    swept = commands.add_parser(
        "sweep-audit", help="delete audit log rows older than "
                            "cms_social_login.audit_retention_days")
    swept.add_argument("--days", type=int, metavar="N",
                       help="keep N days instead of the setting (0 keeps everything)")
    revision = commands.add_parser("revision", help="write a new revision file")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--autogenerate", action="store_true")
    return parser


def _sweep_audit(settings: dict, days: int) -> int:
    """Delete the audit rows older than ``days`` days in one transaction."""
    engine = get_engine(settings)
    try:
        with Session(engine) as dbsession, dbsession.begin():
            deleted = sweep(dbsession, days)
    finally:
        engine.dispose()
    if days <= 0:
        print("Audit log: kept everything (retention 0 days).")
    else:
        print(f"Audit log: deleted {deleted} row(s) older than {days} days.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status (0 on success)."""
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(args.config_uri, args.verbose)
    settings = dict(get_appsettings(args.config_uri, name=args.app))
    apply_environment(settings)
    if args.command == "sweep-audit":
        try:
            days = audit_retention_days(settings) if args.days is None else args.days
        except ConfigurationError as exc:
            parser.error(str(exc))
        return _sweep_audit(settings, days)
    config = alembic_config(settings=settings)
    if args.command == "upgrade" and not args.sql:
        engine = get_engine(settings)
        try:
            before = current_revision(engine)
            upgrade(engine, args.revision, settings)
            after = current_revision(engine)
        finally:
            engine.dispose()
        print(f"cms_social_login schema: {before or 'empty'} -> {after} "
              f"(newest: {head_revision()})")
    elif args.command == "upgrade":
        command.upgrade(config, args.revision, sql=True)
    elif args.command == "downgrade":
        command.downgrade(config, args.revision, sql=args.sql)
    elif args.command == "stamp":
        command.stamp(config, args.revision)
    elif args.command == "current":
        command.current(config, verbose=True)
    elif args.command == "history":
        command.history(config, verbose=True)
    elif args.command == "check":
        command.check(config)
    elif args.command == "revision":
        command.revision(config, message=args.message, autogenerate=args.autogenerate)
    return 0


if __name__ == "__main__":  # python -m cms_social_login.migrations.cli
    sys.exit(main())
