"""Alembic's logger, quiet during a site's start unless the site configured it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def alembic_quiet_unless_configured() -> Iterator[None]:
    """Keep Alembic's INFO lines (plugin set-up, "Context impl ...", each revision) out of a
    site's start-up log, unless the site's logging configuration names an ``alembic``
    logger (``[logger_alembic]`` in the ini): then it logs as configured."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level != logging.NOTSET:
        yield
        return
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(logging.NOTSET)
