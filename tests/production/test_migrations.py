"""The Alembic migrations make exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

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
from cms_social_login.models import get_engine, get_social_login_engine, metadata

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


def test_a_release_before_0007_made_by_create_all_gets_the_later_revisions(engine):
    # Revision 0006's tables (the pending states' table, no used states), no version table.
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        assert "social_login_states" in inspect(connection).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []
        assert "social_login_states" not in inspect(connection).get_table_names()


def schema_of(connection) -> dict:
    """Every table's columns, primary key, indexes and unique constraints, as the database
    reports them."""
    found = inspect(connection)
    return {table: {
        "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in found.get_columns(table)],
        "primary key": found.get_pk_constraint(table)["constrained_columns"],
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                          for i in found.get_indexes(table)),
        "unique": sorted((u["name"], tuple(u["column_names"]))
                         for u in found.get_unique_constraints(table)),
    } for table in sorted(found.get_table_names()) if table != VERSION_TABLE}


def test_downgrading_0007_gives_back_0006s_schema(engine):
    from alembic import command

    upgrade(engine, "0006")
    with engine.connect() as connection:
        schema_0006 = schema_of(connection)
    assert "social_login_states" in schema_0006
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0006")
    assert current_revision(engine) == "0006"
    with engine.connect() as connection:
        assert schema_of(connection) == schema_0006
    upgrade(engine)
    with engine.connect() as connection:
        assert schema_differences(connection) == []


def test_half_made_schema_is_refused_with_advice(engine):
    metadata.tables["social_login_used_states"].create(engine)
    with pytest.raises(RuntimeError, match="stamp <revision>"):
        upgrade(engine)


def test_the_demo_first_start_migrates(app):
    engine = get_social_login_engine(app.registry)
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


def _rows_of_release_0002(connection, gitlab_url: str) -> None:
    """Published settings of four tabs, one identity on each, a stored token."""
    document = {
        "bitbucket": {"enabled": True, "values": {"client_id": "bb-key"}, "secrets": {}},
        "github": {"enabled": True, "values": {"client_id": "gh-key"}, "secrets": {}},
        "gitlab": {"enabled": True, "values": {"client_id": "gl", "base_url": gitlab_url},
                   "secrets": {}},
        "staff": {"enabled": True, "values": {"issuer": "https://id.example.org/realms/s/",
                                              "client_id": "c"}, "secrets": {}},
    }
    connection.execute(text(
        "INSERT INTO social_login_settings (stage, version, document, updated_at) "
        "VALUES ('published', 3, :document, CURRENT_TIMESTAMP)"),
        {"document": json.dumps(document)})
    for number, provider in enumerate(("bitbucket", "github", "gitlab", "staff", "acme"), 1):
        connection.execute(text(
            "INSERT INTO social_login_identities (id, provider, provider_user_id, userid, "
            "created_at, last_login_at) VALUES (:id, :provider, '5555', :userid, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"id": number, "provider": provider, "userid": f"user-{number}"})
    connection.execute(text(
        "INSERT INTO social_login_tokens (identity_id, access_token, updated_at, version) "
        "VALUES (3, 'encrypted-token', CURRENT_TIMESTAMP, 0)"))


def test_upgrade_from_0002_gives_each_identity_the_issuer_it_signed_in_through(
        database_url):
    # The site's own engine: on SQLite it turns foreign keys on (ON DELETE CASCADE).
    engine = get_engine({"sqlalchemy.url": database_url})
    try:
        upgrade(engine, "0002")
        with engine.begin() as connection:
            _rows_of_release_0002(connection, "https://gitlab.example.com/")
        upgrade(engine, settings={
            "cms_social_login.bitbucket.api_url": "http://127.0.0.1:9999/2.0"})
        with engine.connect() as connection:
            assert schema_differences(connection) == []
            issuers = dict(connection.execute(text(
                "SELECT provider, issuer FROM social_login_identities")).all())
            assert issuers == {
                "bitbucket": "http://127.0.0.1:9999",       # the ini's API URL
                "github": "https://api.github.com",         # the default API URL
                "gitlab": "https://gitlab.example.com",     # the tab's GitLab URL
                "staff": "https://id.example.org/realms/s",  # the tab's issuer
                "acme": "",                                 # a plugin: one fixed server
            }
            # The stored token survived the table's rebuild (SQLite batch mode).
            assert connection.execute(text(
                "SELECT access_token FROM social_login_tokens WHERE identity_id = 3"
            )).scalar() == "encrypted-token"
        insert = text(
            "INSERT INTO social_login_identities (id, provider, issuer, provider_user_id, "
            "userid, created_at, last_login_at) VALUES (:id, 'gitlab', :issuer, '5555', 'x', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        with engine.begin() as connection:  # user 5555 at another GitLab: another person
            connection.execute(insert, {"id": 10, "issuer": "https://other-gitlab.example.com"})
        with pytest.raises(IntegrityError, match="uq_social_login_identities_site|UNIQUE"), \
                engine.begin() as connection:
            connection.execute(insert, {"id": 11, "issuer": "https://gitlab.example.com"})
    finally:
        engine.dispose()
