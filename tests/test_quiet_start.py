"""The demo's start says what matters: no Alembic INFO lines (plugin set-up, "Context impl
SQLiteImpl") unless the site's logging configuration asks for Alembic's logger."""

from __future__ import annotations

import logging

import pytest

from cms_social_login.models import get_social_login_engine


def start_demo(app_settings):
    from cms_demo import main

    app = main({}, **app_settings)
    get_social_login_engine(app.registry).dispose()


def alembic_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]


@pytest.fixture
def first_start_settings(app_settings, tmp_path):
    """The demo on an empty (SQLite) database: its first start runs the migrations (a
    site's database made by the test kit is migrated already, and then Alembic is not
    loaded at all)."""
    return {**app_settings, "sqlalchemy.url": f"sqlite:///{tmp_path / 'first-start.sqlite'}"}


def test_a_start_logs_no_alembic_info_lines(first_start_settings, caplog):
    caplog.set_level(logging.INFO)
    start_demo(first_start_settings)
    assert alembic_lines(caplog) == []
    assert logging.getLogger("alembic").level == logging.NOTSET  # left as it was


@pytest.fixture
def alembic_logger_configured():
    """As ``[logger_alembic] level = INFO`` in an ini file would make it."""
    alembic_log = logging.getLogger("alembic")
    alembic_log.setLevel(logging.INFO)
    yield
    alembic_log.setLevel(logging.NOTSET)


def test_a_site_that_asks_for_alembics_logger_gets_its_lines(first_start_settings, caplog,
                                                             alembic_logger_configured):
    caplog.set_level(logging.INFO)
    start_demo(first_start_settings)
    lines = alembic_lines(caplog)
    assert any(line.startswith("Context impl") for line in lines), lines
