"""Small helpers for the security tests."""

from __future__ import annotations

from sqlalchemy import func, select


def dbsession_of(app):
    """A plain session on the app's database (outside any request)."""
    return app.registry["cms_social_login.dbsession_factory"]()


def count(app, model) -> int:
    """How many rows ``model``'s table holds."""
    with dbsession_of(app) as db:
        return db.scalar(select(func.count()).select_from(model))
