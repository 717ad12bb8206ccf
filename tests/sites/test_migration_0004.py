"""Revision 0004 gives every per-site row a site: today's rows become the default site's,
nothing is lost (stored tokens survive SQLite's table rebuild), and the new keys let a
second site have its own settings and its own identity of the same person."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cms_social_login.migrations import (
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    schema_differences,
    upgrade,
)
from cms_social_login.models import get_engine

DOCUMENT = {"bitbucket": {"enabled": True, "position": 0, "values": {"client_id": "k"},
                          "secrets": {"client_secret": "encrypted"}}}
#: One row of each per-site table, as release 0003 wrote them (and the token).
ROWS_OF_0003 = [
    ("INSERT INTO social_login_settings (stage, version, document, updated_at) "
     "VALUES ('draft', 4, :document, CURRENT_TIMESTAMP)"),
    ("INSERT INTO social_login_settings (stage, version, document, updated_at) "
     "VALUES ('published', 3, :document, CURRENT_TIMESTAMP)"),
    ("INSERT INTO social_login_publish_history (id, version, document, published_at, "
     "published_by) VALUES (1, 3, :document, CURRENT_TIMESTAMP, 'editor')"),
    ("INSERT INTO social_login_audit (id, at, kind, action, actor, provider, detail) "
     "VALUES (1, CURRENT_TIMESTAMP, 'editor', 'save', 'editor', 'bitbucket', '{}')"),
    ("INSERT INTO social_login_identities (id, provider, issuer, provider_user_id, userid, "
     "created_at, last_login_at) VALUES (7, 'bitbucket', 'https://api.bitbucket.org', "
     "'{ada}', 'bitbucket:ada', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
    ("INSERT INTO social_login_tokens (identity_id, access_token, updated_at, version) "
     "VALUES (7, 'encrypted-token', CURRENT_TIMESTAMP, 0)"),
    ("INSERT INTO social_login_states (state_hash, provider, binding, came_from, created_at) "
     "VALUES ('s1', 'bitbucket', 'b1', '/', CURRENT_TIMESTAMP)"),
    ("INSERT INTO social_login_sessions (token_hash, userid, created_at, expires_at) "
     "VALUES ('t1', 'bitbucket:ada', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
]
PER_SITE = ["social_login_settings", "social_login_publish_history", "social_login_audit",
            "social_login_identities", "social_login_states", "social_login_sessions"]


@pytest.fixture
def engine(database_url):
    # The site's own engine: on SQLite it turns foreign keys on (ON DELETE CASCADE).
    engine = get_engine({"sqlalchemy.url": database_url})
    yield engine
    engine.dispose()


def _fill_0003(engine) -> None:
    upgrade(engine, "0003")
    with engine.begin() as connection:
        for statement in ROWS_OF_0003:
            connection.execute(text(statement), {"document": json.dumps(DOCUMENT)})


def test_upgrade_from_0003_keeps_every_row_as_the_default_sites(engine):
    _fill_0003(engine)
    upgrade(engine, "0006")  # the last revision with every table of 0003
    with engine.connect() as connection:
        for table in PER_SITE:
            sites = connection.execute(text(f"SELECT site FROM {table}")).scalars().all()
            assert sites and set(sites) == {"default"}, table
        stages = dict(connection.execute(text(
            "SELECT stage, version FROM social_login_settings")).all())
        assert stages == {"draft": 4, "published": 3}
        # The stored token survived the identities table's rebuild (SQLite batch mode).
        assert connection.execute(text(
            "SELECT access_token FROM social_login_tokens WHERE identity_id = 7")
        ).scalar() == "encrypted-token"
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []


def test_after_0004_a_second_site_has_its_own_rows_and_its_own_person(engine):
    _fill_0003(engine)
    upgrade(engine)
    with engine.begin() as connection:  # site-a's draft beside the default site's
        connection.execute(text(
            "INSERT INTO social_login_settings (site, stage, version, document, updated_at) "
            "VALUES ('site-a', 'draft', 1, '{}', CURRENT_TIMESTAMP)"))
    identity = text(
        "INSERT INTO social_login_identities (id, site, provider, issuer, provider_user_id, "
        "userid, created_at, last_login_at) VALUES (:id, :site, 'bitbucket', "
        "'https://api.bitbucket.org', '{ada}', :userid, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    with engine.begin() as connection:  # the same person on site-a: another identity
        connection.execute(identity, {"id": 8, "site": "site-a", "userid": "bitbucket:ada-a"})
    with pytest.raises(IntegrityError, match="uq_social_login_identities_site|UNIQUE"), \
            engine.begin() as connection:
        connection.execute(identity, {"id": 9, "site": "site-a", "userid": "x"})


def test_downgrade_to_0003_is_refused_while_another_site_has_rows(engine):
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO social_login_audit (site, at, kind, action, detail) "
            "VALUES ('site-a', CURRENT_TIMESTAMP, 'editor', 'save', '{}')"))
    with pytest.raises(RuntimeError, match="social_login_audit holds 1 rows of other sites"), \
            engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0003")
    assert current_revision(engine) == head_revision()


def test_downgrade_to_0003_and_up_again_keeps_the_default_sites_rows(engine):
    _fill_0003(engine)
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0003")
    with engine.connect() as connection:
        assert "site" not in {c["name"] for c in inspect(connection).get_columns(
            "social_login_settings")}
        assert connection.execute(text(
            "SELECT count(*) FROM social_login_tokens")).scalar() == 1
    upgrade(engine)
    with engine.connect() as connection:
        assert schema_differences(connection) == []


def test_tables_made_by_create_all_before_sites_are_stamped_0003_and_upgraded(engine):
    _fill_0003(engine)  # today's tables, without a site column ...
    with engine.begin() as connection:  # ... and without the version table (create_all)
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_differences(connection) == []
        assert connection.execute(text(
            "SELECT site FROM social_login_identities")).scalar() == "default"


def test_cms_social_login_db_upgrades_a_database_that_predates_sites(
        engine, database_url, tmp_path, capsys):
    from cms_social_login.migrations.cli import main as db_command

    _fill_0003(engine)
    ini = tmp_path / "site.ini"
    ini.write_text("[app:main]\nuse = egg:cms_social_login\n"
                   f"sqlalchemy.url = {database_url.replace('%', '%%')}\n")
    assert db_command([str(ini), "current"]) == 0
    assert "0003" in capsys.readouterr().out
    assert db_command([str(ini), "upgrade"]) == 0
    assert f"0003 -> {head_revision()}" in capsys.readouterr().out
    with engine.connect() as connection:
        assert schema_differences(connection) == []
        assert connection.execute(text(
            "SELECT count(*) FROM social_login_tokens")).scalar() == 1
