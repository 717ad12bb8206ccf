"""The Alembic migrations make exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from cms_social_login.migrations import (
    INITIAL_TABLES,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    schema_differences,
    upgrade,
)
from cms_social_login.migrations.cli import main as db_command
from cms_social_login.models import metadata

TABLES = set(metadata.tables)


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def test_migrations_make_exactly_the_models_schema(engine):
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []
        names = set(inspect(connection).get_table_names())
    assert names == TABLES | {VERSION_TABLE}


def test_upgrade_twice_is_harmless_and_downgrade_undoes_it(engine):
    from alembic import command

    upgrade(engine)
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {VERSION_TABLE}
    upgrade(engine)
    with engine.connect() as connection:
        assert schema_differences(connection) == []


def test_a_database_made_by_create_all_is_adopted(engine):
    metadata.create_all(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []


def test_the_first_release_made_by_create_all_gets_the_later_revisions(engine):
    # The first release's tables as its create_all made them (no version table).
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        assert set(inspect(connection).get_table_names()) == INITIAL_TABLES
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []


def test_half_made_schema_is_refused_with_advice(engine):
    metadata.tables["social_login_states"].create(engine)
    with pytest.raises(RuntimeError, match="stamp <revision>"):
        upgrade(engine)


def test_the_demo_first_start_migrates(app):
    engine = app.registry["cms_social_login.dbsession_factory"].kw["bind"]
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []
        assert "demo_users" in inspect(connection).get_table_names()


def _ini(tmp_path: Path, url: str | None) -> Path:
    ini = tmp_path / "site.ini"
    lines = ["[app:main]", "use = egg:cms_social_login"]
    if url:
        lines.append(f"sqlalchemy.url = {url.replace('%', '%%')}")
    ini.write_text("\n".join(lines) + "\n")
    return ini


def test_the_console_script_upgrades_from_an_ini_file(database_url, tmp_path, capsys):
    ini = _ini(tmp_path, database_url)
    assert db_command([str(ini), "upgrade"]) == 0
    assert f"empty -> {head_revision()}" in capsys.readouterr().out
    assert db_command([str(ini), "current"]) == 0
    assert head_revision() in capsys.readouterr().out
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert schema_differences(connection) == []
    finally:
        engine.dispose()


def test_the_console_script_takes_the_url_from_the_environment(database_url, tmp_path):
    ini = _ini(tmp_path, None)
    env = {**os.environ, "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "cms_social_login.migrations.cli", str(ini), "upgrade"],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert head_revision() in result.stdout
    engine = create_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert connection.execute(
                text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == head_revision()
    finally:
        engine.dispose()
