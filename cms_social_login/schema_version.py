"""Whether the database's schema is the one this package ships, without Alembic.

A worker that starts on a migrated database has nothing to migrate; reading the version
table here spares it importing Alembic (and Mako and Pygments with it), which would stay
in its memory for good. :mod:`cms_social_login.migrations` is imported only to migrate.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

__all__ = ["VERSION_TABLE", "schema_is_current", "shipped_head"]

#: The add-on's own Alembic version table (the host may have ``alembic_version``).
VERSION_TABLE = "social_login_alembic_version"
#: Where the revisions are shipped.
VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_ASSIGNMENT = re.compile(r'^(revision|down_revision)\s*(?::[^=]+)?=\s*"?([\w-]+)"?', re.M)


def shipped_head() -> str:
    """The newest revision in :data:`VERSIONS`: the one no other revision builds on."""
    revisions, parents = set(), set()
    for script in VERSIONS.glob("*.py"):
        found = dict(_ASSIGNMENT.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"cms_social_login: expected one head revision, found {heads}")
    return heads.pop()


def schema_is_current(connection: Connection) -> bool:
    """Whether the database is at :func:`shipped_head` (False: never migrated, or older)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return False
    stored = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return list(stored) == [shipped_head()]
