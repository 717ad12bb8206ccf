"""One site per settings for a whole test session, reset between tests.

Building the demo site (``cms_demo.main``: the configuration, the providers, the routes and
templates) and giving each test a database of its own are most of what a site test costs.
A :class:`SitePool` keeps both for the session (one pytest-xdist worker):

- one database per template (a SQLite file, or a PostgreSQL database), which
  :meth:`SitePool.sqlite_database` / :meth:`SitePool.postgresql_database` put back to the
  template's content for each test: SQLite's backup API copies the template into the file;
  PostgreSQL's rows are deleted and the template's inserted again, sequences included
  (:class:`~cms_social_login.testing.postgresql.ReusedDatabase`);
- one application per settings (the database URL among them) and ``sys.path`` folders,
  which :meth:`SitePool.site` hands to the next test asking for the same, after
  :func:`cms_social_login.cached_state.forget_cached_state` made it forget what it
  remembered between requests. With its database reset too, the test finds it as a site
  freshly built on a fresh database would be.

A test that changes the site in a way no reset undoes (a view added, the registry
changed by hand) asks for a site of its own: ``site(settings, fresh=True)``, the marker
``@pytest.mark.fresh_app`` in the kit's and this project's fixtures. A site on a database
the pool does not manage (a URL of the test's own) is built for the test alone too.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["SitePool"]

#: Applications a pool keeps at most (the least recently used goes first).
POOL_SIZE = 12
#: Seconds a SQLite reset waits for a lock another connection holds on the file.
SQLITE_LOCK_TIMEOUT = 1.0


def _dispose(app: Any) -> None:
    from .plugin import dispose_site

    dispose_site(app)


class SitePool:
    """The session's reused databases (in ``folder`` for SQLite) and sites."""

    def __init__(self, folder: Path, size: int = POOL_SIZE) -> None:
        self.folder = folder
        self.size = size
        self._apps: OrderedDict[tuple, Any] = OrderedDict()
        self._sqlite: dict[Path, str] = {}
        self._postgresql: dict[tuple[int, str], Any] = {}
        self._names = itertools.count(1)

    # ------------------------------------------------------------------ databases

    def _managed(self) -> set[str]:
        return {*self._sqlite.values(), *(db.url for db in self._postgresql.values())}

    def _drop_sites(self, url: str) -> None:
        for key in [key for key in self._apps if key[0] == url]:
            _dispose(self._apps.pop(key))

    def _close_connections(self, url: str) -> None:
        for key, app in self._apps.items():
            if key[0] == url:
                _dispose(app)

    def sqlite_database(self, template: str | Path) -> str:
        """The URL of the session's SQLite file for ``template``, now a copy of it. When
        a connection left in a transaction (by an earlier test) keeps the file locked for
        :data:`SQLITE_LOCK_TIMEOUT` seconds, the sites on it go and a new file is used."""
        import sqlite3

        from .plugin import copy_sqlite_database

        template = Path(template)
        url = self._sqlite.get(template)
        if url is not None:
            self._close_connections(url)  # the copy replaces the file's content
            try:
                return copy_sqlite_database(template, url.removeprefix("sqlite:///"),
                                            busy_timeout=SQLITE_LOCK_TIMEOUT)
            except sqlite3.OperationalError:
                self._drop_sites(url)
        path = self.folder / f"site-{next(self._names)}.sqlite"
        url = self._sqlite[template] = f"sqlite:///{path}"
        return copy_sqlite_database(template, path)

    def postgresql_database(self, server: Any, template: str) -> str:
        """The URL of the session's database on ``server`` for the database ``template``,
        now with the template's rows."""
        import psycopg

        from .postgresql import DatabaseChanged, ReusedDatabase

        key = (id(server), template)
        database = self._postgresql.get(key)
        if database is None:
            database = self._postgresql[key] = ReusedDatabase(
                server, f"site_{template[-16:]}_{next(self._names)}", template)
            return database.url
        try:
            return database.reset()
        except (DatabaseChanged, psycopg.Error):
            self._close_connections(database.url)
            return database.recreate()

    # ------------------------------------------------------------------ sites

    @contextmanager
    def site(self, settings: Mapping[str, Any], extra_sys_path: Iterable[str | Path] = (),
             fresh: bool = False) -> Iterator[Any]:
        """The demo host site on ``settings`` for the block: the one the pool holds for
        them, made to forget its state, or a new one (kept for the next test). ``fresh``,
        or a database the pool does not manage: a new site, disposed after the block."""
        from .plugin import site_app

        url = str(settings.get("sqlalchemy.url", ""))
        if fresh or url not in self._managed():
            with site_app(settings, extra_sys_path) as app:
                yield app
            return
        key = (url, tuple(sorted((name, repr(value)) for name, value in settings.items())),
               tuple(str(path) for path in extra_sys_path))
        app = self._apps.pop(key, None)
        if app is None:
            from .plugin import build_site

            app = build_site(settings, extra_sys_path)
        else:
            from ..cached_state import forget_cached_state

            forget_cached_state(app.registry)
        self._apps[key] = app
        while len(self._apps) > self.size:
            _dispose(self._apps.popitem(last=False)[1])
        yield app

    def drop_postgresql_databases(self, server: Any) -> None:
        """Drop the databases made on ``server`` (before it stops), and the sites on them."""
        for key in [key for key in self._postgresql if key[0] == id(server)]:
            database = self._postgresql.pop(key)
            self._drop_sites(database.url)
            database.close()

    def close(self) -> None:
        """Dispose of every site (after :meth:`drop_postgresql_databases`)."""
        while self._apps:
            _dispose(self._apps.popitem()[1])
