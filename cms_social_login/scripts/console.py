"""What the add-on's commands print: their own result, not the site's start-up logging.

The ini file's ``[loggers]`` are made for a running site (INFO lines from Alembic, one
JSON line per audit event). A command shows only warnings and errors, one plain line
each, unless ``--verbose`` asks for the ini file's logging configuration.
"""

from __future__ import annotations

import contextlib
import logging

#: How a warning of a command looks on the console.
CONSOLE_FORMAT = "%(levelname)s [%(name)s] %(message)s"


def configure_logging(config_uri: str, verbose: bool = False) -> None:
    """Log as the ini file says when ``verbose``, else warnings only, in plain lines."""
    if verbose:
        from pyramid.paster import setup_logging

        with contextlib.suppress(Exception):  # an ini without logging sections is fine
            setup_logging(config_uri)
        return
    logging.basicConfig(level=logging.WARNING, format=CONSOLE_FORMAT, force=True)
