"""What each part of the stack adds to a worker's memory (benchmark 4's decomposition).

    python benchmarks/import_cost.py [DATABASE_URL]    # default: a new SQLite file

Imports the stack of ``benchmarks/floor_app.py`` (what any Pyramid + SQLAlchemy ORM +
psycopg site served by ``pserve`` and waitress loads) one package at a time in a fresh
interpreter and prints the resident memory (VmRSS) each step adds; then the floor's app
(``benchmarks.floor_app.main``), the add-on's imports and configuration on top of it
(``cms_demo.main``, the site of production.ini) and the site's first ``GET /login``.

A step's figure is what it adds to what the steps before it loaded (the standard library
modules a package pulls in are charged to the first one that needs them), so the order
is chosen to tell what leaving one package out would save: ``pkg_resources``, which
Pyramid 2.1 imports for asset specs (Pylons/pyramid#3731), comes after everything it
shares with the rest of the stack, and the add-on comes last.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, modules), in the order they are imported.
STACK = (
    ("hashlib (OpenSSL's libcrypto, loaded by the standard library)", ("hashlib",)),
    ("hupper (pserve imports it, with or without --reload)", ("hupper",)),
    ("waitress", ("waitress", "waitress.server", "waitress.task", "waitress.channel")),
    ("webob (with the standard library's email, http, cgi)", ("webob", "webob.acceptparse")),
    ("jinja2 + markupsafe", ("jinja2",)),
    ("transaction", ("transaction",)),
    ("sqlalchemy + orm + postgresql dialect",
     ("sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.postgresql.psycopg")),
    ("psycopg + psycopg_binary (libpq, its own libssl / libcrypto)",
     ("psycopg", "psycopg.pq")),
    ("zope.interface, venusian, translationstring, plaster, paste.deploy",
     ("zope.interface", "venusian", "translationstring", "plaster",
      "plaster_pastedeploy", "paste.deploy")),
    ("pkg_resources (what the rest of the stack has not loaded)", ("pkg_resources",)),
    ("pyramid + pserve", ("pyramid.config", "pyramid.router", "pyramid.paster",
                          "pyramid.scripts.pserve")),
    ("pyramid_jinja2, pyramid_tm, pyramid_retry, zope.sqlalchemy",
     ("pyramid_jinja2", "pyramid_tm", "pyramid_retry", "zope.sqlalchemy")),
)


def rss_kib() -> int:
    """This process's resident memory (KiB)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def main(argv: list[str]) -> int:
    """Print each step's figure (MiB); ``argv``: [the database URL] (empty: a new SQLite
    database; a PostgreSQL database is migrated by the first step, in another process)."""
    warnings.simplefilter("ignore")  # pkg_resources' deprecation warning
    sys.path.insert(0, str(ROOT))
    before = rss_kib()
    print(f"{'python (the interpreter, before any step)':<70} {before / 1024:6.1f} MiB")

    def step(label: str, action: object) -> None:
        nonlocal before
        action()
        now = rss_kib()
        print(f"{label:<70} {(now - before) / 1024:+6.1f} MiB = {now / 1024:5.1f}", flush=True)
        before = now

    for label, modules in STACK:
        step(label, lambda modules=modules: [importlib.import_module(m) for m in modules])
    with tempfile.TemporaryDirectory() as folder:
        from webob import Request

        from benchmarks.floor_app import main as floor
        from cms_demo import main as demo

        url = argv[0] if argv else f"sqlite:///{folder}/site.sqlite"
        settings = {"sqlalchemy.url": url,
                    "cms_social_login.secret_key": "import-cost-" + "k" * 32,
                    "cms_demo.setup_database": "true", "cms_demo.demo_editor": "false",
                    "pyramid.reload_templates": "false"}
        # The schema made by another process (Alembic is not a worker's cost: a worker
        # starting on a migrated database only checks the version).
        subprocess.run([sys.executable, "-c", "import json, sys; from cms_demo import main; "
                        "main({}, **json.loads(sys.argv[1]))", json.dumps(settings)],
                       cwd=str(ROOT), check=True, stderr=subprocess.DEVNULL)
        page = Path(folder, "floor.page")
        page.write_text("<!doctype html><title>Log in</title><h1>Log in</h1>")
        site: list = []
        step("the floor's app (benchmarks/floor_app.py: main() and a GET /login)",
             lambda: Request.blank("/login").get_response(floor(
                 {}, **{"sqlalchemy.url": url, "floor.page": str(page),
                        "pyramid.reload_templates": "false"})))
        step("cms_social_login + cms_demo: their imports and configuration (main())",
             lambda: site.append(demo({}, **settings)))
        step("the site's first GET /login (its templates compiled, first query)",
             lambda: Request.blank("/login", host="localhost").get_response(site[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
