"""Database helpers shared by the services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyramid_retry import mark_error_retryable
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError


@contextmanager
def retry_lost_races() -> Iterator[None]:
    """A lost race inside (unique key, stale version, locked database) retries the request.

    ``pyramid_retry`` runs the request again in a new transaction, where the winner's
    row is visible and the request takes the other path (finds the row, or reports the
    version conflict in plain words).
    """
    try:
        yield
    except (IntegrityError, StaleDataError, OperationalError) as exc:
        mark_error_retryable(exc)
        raise


def flush_or_retry(dbsession: Session) -> None:
    """Flush; a lost race retries the request (see :func:`retry_lost_races`)."""
    with retry_lost_races():
        dbsession.flush()
