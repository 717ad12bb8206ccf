"""Alembic revisions of the add-on's schema (one module per revision)."""
