"""A private, throw-away PostgreSQL server for tests and benchmarks.

:class:`PostgreSQLServer` runs Debian's PostgreSQL binaries (``initdb``, ``pg_ctl``
from ``/usr/lib/postgresql/<version>/bin``) on a data folder and a unix-socket folder
in a temporary directory, listening on ``127.0.0.1`` on a free port, tuned for tests
(no fsync: the data is thrown away). As root it runs the server as the ``postgres``
user (PostgreSQL refuses to run as root). Each test can get a fresh database::

    with PostgreSQLServer() as server:
        url = server.create_database("t1")   # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
        ...
        server.drop_database("t1")

:class:`ExistingPostgreSQL` offers the same ``create_database`` / ``drop_database``
on a server someone else runs, given the URL of a database there whose user may
create databases.

:class:`ReusedDatabase` is one database copied from a template once and reset to the
template's rows for each test (a test kit's way to skip a ``CREATE DATABASE`` per test).

:func:`postgresql_unavailable` says why no server can be started (no binaries), or
``None`` when one can.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = [
    "DatabaseChanged",
    "ExistingPostgreSQL",
    "PostgreSQLServer",
    "PostgreSQLUnavailable",
    "ReusedDatabase",
    "find_bin_dir",
    "free_port",
    "postgresql_unavailable",
]

#: The SQLAlchemy driver prefix used for every URL handed out here.
DRIVER = "postgresql+psycopg"
#: Settings for a disposable server: fast, not durable.
TEST_SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "max_wal_size": "1GB",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgreSQLUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or the server did not start)."""


def _version_key(path: str) -> tuple[int, ...]:
    parts = Path(path).parts
    digits = next((p for p in reversed(parts) if p.replace(".", "").isdigit()), "0")
    return tuple(int(x) for x in digits.split("."))


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: the newest Debian version, else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key,
                        reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgresql_unavailable() -> str | None:
    """Why a private PostgreSQL server cannot be started here, or None if it can."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found: "
                "apt-get install postgresql")
    if not (bin_dir / "pg_ctl").exists():
        return f"pg_ctl missing next to {bin_dir / 'initdb'}"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as 'postgres'"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg (PostgreSQL driver) not installed: pip install 'psycopg[binary]'"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


class _Databases:
    """CREATE / DROP DATABASE through an autocommit admin connection."""

    admin_url: str

    def _admin(self) -> Any:
        import psycopg

        conninfo = self.admin_url.replace(DRIVER + "://", "postgresql://", 1)
        return psycopg.connect(conninfo, autocommit=True)

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL of database ``dbname`` on this server."""
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{dbname}"

    def create_database(self, name: str, template: str = "template1") -> str:
        """Create an empty database ``name`` (a copy of ``template``); return its URL."""
        _check_name(name)
        _check_name(template)
        with self._admin() as conn:
            statement = f'CREATE DATABASE "{name}" TEMPLATE "{template}"'
            if self._file_copy(conn):
                statement += " STRATEGY FILE_COPY"
            conn.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing whatever is still connected to it."""
        _check_name(name)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def _file_copy(conn: Any) -> bool:
        # PostgreSQL 15 copies small templates faster file by file than through the WAL.
        return conn.info.server_version >= 150000


class ExistingPostgreSQL(_Databases):
    """A PostgreSQL server run elsewhere, reached through ``url`` (a user with CREATEDB)."""

    def __init__(self, url: str) -> None:
        if url.startswith("postgresql://"):
            url = DRIVER + "://" + url[len("postgresql://"):]
        self.admin_url = url

    def __enter__(self) -> ExistingPostgreSQL:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class PostgreSQLServer(_Databases):
    """A PostgreSQL cluster of its own in a temporary folder, on 127.0.0.1:``port``.

    ``start()`` runs ``initdb`` and ``pg_ctl start`` (as ``postgres`` when run as
    root); ``stop()`` stops the server and deletes the folder. ``options`` are extra
    server settings (``-c name=value``) on top of :data:`TEST_SERVER_OPTIONS`.
    """

    def __init__(self, bin_dir: Path | str | None = None, port: int | None = None,
                 options: dict[str, str] | None = None) -> None:
        found = Path(bin_dir) if bin_dir else find_bin_dir()
        if found is None:
            raise PostgreSQLUnavailable(postgresql_unavailable() or "no PostgreSQL")
        self.bin_dir = found
        self.port = port or free_port()
        self.options = {**TEST_SERVER_OPTIONS, **(options or {})}
        self.base_dir: Path | None = None
        self.admin_url = f"{DRIVER}://postgres@127.0.0.1:{self.port}/postgres"
        self._running = False

    # -- running the binaries --------------------------------------------------------

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], timeout: float = 120) -> None:
        result = subprocess.run(self._as_server_user(argv), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=timeout, cwd="/")
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace")[-4000:]
            log = self._log_tail()
            raise PostgreSQLUnavailable(
                f"{Path(argv[0]).name} failed ({result.returncode}): {output}{log}")

    def _log_tail(self) -> str:
        if self.base_dir is None:
            return ""
        logfile = self.base_dir / "server.log"
        if not logfile.exists():
            return ""
        return "\nserver log:\n" + logfile.read_text(errors="replace")[-4000:]

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder."""
        assert self.base_dir is not None, "server not started"
        return self.base_dir / "data"

    def start(self) -> PostgreSQLServer:
        """Create the cluster and start the server; wait until it accepts connections."""
        if self._running:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix="cms_social_login_pg_"))
        socket_dir = self.base_dir / "socket"
        socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, "postgres", "postgres")
            shutil.chown(socket_dir, "postgres", "postgres")
        self._run([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
        for attempt in range(3):
            options = " ".join(f"-c {key}={value}" for key, value in self.options.items())
            options += f" -p {self.port} -k {socket_dir}"
            try:
                self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                           str(self.base_dir / "server.log"), "-o", options, "-w", "-t", "60",
                           "start"])
                break
            except PostgreSQLUnavailable as exc:
                # Another program took the free port meanwhile: try another one.
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
                self.port = free_port()
                self.admin_url = f"{DRIVER}://postgres@127.0.0.1:{self.port}/postgres"
        self._running = True
        atexit.register(self.stop)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self._admin() as conn:
                    conn.execute("SELECT 1")
                return
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                if time.monotonic() > deadline:
                    raise PostgreSQLUnavailable(f"server did not answer: {exc}"
                                                f"{self._log_tail()}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        if self._running:
            self._running = False
            try:
                self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m",
                           "immediate", "-w", "stop"], timeout=60)
            except (PostgreSQLUnavailable, subprocess.TimeoutExpired):
                pass
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> PostgreSQLServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- reuse


class DatabaseChanged(RuntimeError):
    """A reused database's schema is no longer its template's (a test migrated it)."""


#: The schema of ``public``: every relation with its kind, every column with its type.
_SCHEMA = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
    SELECT c.relname || ':' || c.relkind::text AS item FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
    UNION ALL
    SELECT c.relname || '.' || a.attname || ':' || a.atttypid::regtype::text FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped) AS items
"""
#: Tables of ``public`` and the tables each one's foreign keys point at.
_TABLES = """
SELECT c.relname, coalesce(array_agg(p.relname) FILTER (WHERE p.relname IS NOT NULL), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
LEFT JOIN pg_class p ON p.oid = k.confrelid
WHERE n.nspname = 'public' AND c.relkind = 'r' GROUP BY c.relname ORDER BY c.relname
"""
_SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"


def _parents_first(tables: dict[str, list[str]]) -> list[str] | None:
    """The tables ordered so that each comes after those its foreign keys point at; None
    when the keys form a cycle."""
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        ready = [name for name, parents in tables.items() if name not in placed
                 and all(p in placed or p == name or p not in tables for p in parents)]
        if not ready:
            return None
        ordered += ready
        placed.update(ready)
    return ordered


class ReusedDatabase:
    """A database made from ``template`` once, reset to the template's rows for each test
    (:meth:`reset`): faster than ``CREATE DATABASE ... TEMPLATE`` and a drop per test.

    The rows of every table of ``public`` (except the migration tools' ``*alembic_version``
    tables, which no test writes) and the sequences' positions are read once, right after
    the copy is made. :meth:`reset` deletes every row (children first), inserts the
    template's (parents first) and puts each sequence back, in one transaction; it raises
    :class:`DatabaseChanged` when the schema differs from the template's, and
    ``psycopg.Error`` when a lock is not granted within ``lock_timeout`` (a connection
    left in a transaction): :meth:`recreate` then makes the copy again.
    """

    def __init__(self, server: Any, name: str, template: str,
                 lock_timeout: str = "2s") -> None:
        self.server = server
        self.name = _check_name(name)
        self.template = _check_name(template)
        self.lock_timeout = lock_timeout
        self.url = server.create_database(name, template=template)
        self._connection: Any = None
        self._read_template()

    def _connect(self) -> Any:
        import psycopg

        if self._connection is None or self._connection.closed:
            conninfo = self.url.replace(DRIVER + "://", "postgresql://", 1)
            self._connection = psycopg.connect(conninfo, autocommit=True)
        return self._connection

    def _read_template(self) -> None:
        conn = self._connect()
        with conn.transaction():
            self._schema = conn.execute(_SCHEMA).fetchone()[0]
            tables = {name: list(parents) for name, parents in conn.execute(_TABLES)
                      if not name.endswith("alembic_version")}
            self._order = _parents_first(tables)
            self._tables = self._order or sorted(tables)
            self._rows: dict[str, tuple[list[str], list[tuple]]] = {}
            for table in self._tables:
                cursor = conn.execute(f'SELECT * FROM "{table}"')
                columns = [column.name for column in cursor.description]
                self._rows[table] = (columns, cursor.fetchall())
            self._sequences = [
                (name, *conn.execute(f'SELECT last_value, is_called FROM "{name}"').fetchone())
                for (name,) in conn.execute(_SEQUENCES).fetchall()]

    def reset(self) -> str:
        """Put the template's rows and sequence positions back; return the URL."""
        conn = self._connect()
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{self.lock_timeout}'")
            if conn.execute(_SCHEMA).fetchone()[0] != self._schema:
                raise DatabaseChanged(f"the schema of {self.name} is not {self.template}'s")
            if self._order is None:  # foreign keys in a cycle: one TRUNCATE for all
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in self._tables)
                             + " CASCADE")
            else:
                for table in reversed(self._order):
                    conn.execute(f'DELETE FROM "{table}"')
            with conn.cursor() as cursor:
                for table in self._tables:
                    columns, rows = self._rows[table]
                    if rows:
                        names = ", ".join(f'"{c}"' for c in columns)
                        marks = ", ".join(["%s"] * len(columns))
                        cursor.executemany(f'INSERT INTO "{table}" ({names}) OVERRIDING '
                                           f"SYSTEM VALUE VALUES ({marks})", rows)
            for name, last_value, is_called in self._sequences:
                conn.execute("SELECT setval(%s::regclass, %s, %s)",
                             (f'"{name}"', last_value, is_called))
        return self.url

    def recreate(self) -> str:
        """Drop the database (closing every connection to it) and copy the template
        again; return the URL."""
        self.close()
        self.url = self.server.create_database(self.name, template=self.template)
        return self.url

    def close(self) -> None:
        """Drop the database."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.server.drop_database(self.name)
