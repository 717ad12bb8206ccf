"""Identities per issuer; signed-in sessions; pending states looked up per browser.

- ``social_login_identities.issuer``: who issued the provider's user id (an OpenID
  Connect issuer, a GitLab server, the origin of an API). Today's rows get the issuer of
  the *published* settings, the one they signed in through. The unique key becomes
  (provider, issuer, provider_user_id): user id 5 at another server is another person.
- ``social_login_sessions``: one row per signed-in browser, so logout ends it on the
  server and an absolute lifetime applies.
- An index on ``social_login_states.binding`` (pending states are counted per browser).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

#: The API URLs the shipped providers used by default when this revision was written
#: (``cms_social_login.<name>.api_url`` overrides them, as at run time).
DEFAULT_API_URLS = {
    "bitbucket": "https://api.bitbucket.org/2.0",
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com/api/v4",
}

settings_table = sa.table("social_login_settings", sa.column("stage", sa.String),
                          sa.column("document", sa.JSON))
identities = sa.table("social_login_identities", sa.column("provider", sa.String),
                      sa.column("issuer", sa.String))
tokens = sa.table("social_login_tokens", *(sa.column(name) for name in (
    "identity_id", "access_token", "refresh_token", "expires_at", "scopes", "updated_at",
    "version")))


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}" if parts.netloc else ""


def issuer_of(name: str, values: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """What ``Provider.identity_issuer`` gave for a published tab at this revision."""
    issuer = str(values.get("issuer") or "").strip()
    if issuer:  # an OpenID Connect tab
        return issuer.rstrip("/")
    base_url = str(values.get("base_url") or "").strip().rstrip("/")
    if name == "gitlab" and base_url:
        return base_url
    if name in DEFAULT_API_URLS:
        configured = str(settings.get(f"cms_social_login.{name}.api_url") or "").strip()
        return _origin(configured or DEFAULT_API_URLS[name])
    return ""  # a plugin with one fixed server (the Provider base's default)


def _published_document(connection: sa.engine.Connection) -> dict[str, Any]:
    document = connection.execute(sa.select(settings_table.c.document).where(
        settings_table.c.stage == "published")).scalar()
    if isinstance(document, str):
        document = json.loads(document)
    return document if isinstance(document, dict) else {}


def _keep_tokens_while(connection: sa.engine.Connection, change) -> None:
    """Run ``change`` (a batch alteration of the identities table) without losing tokens.

    On SQLite a batch alteration copies the table and drops the old one; with foreign
    keys on, the drop deletes every stored token through ``ON DELETE CASCADE`` (and the
    pragma cannot be turned off inside the migration's transaction). The rows are read
    first and put back.
    """
    saved = []
    if connection.dialect.name == "sqlite":
        saved = [dict(row._mapping) for row in connection.execute(sa.select(tokens))]
    change()
    if saved:
        connection.execute(sa.delete(tokens))
        connection.execute(sa.insert(tokens), saved)


def upgrade() -> None:
    """Add the issuer (backfilled), the new unique key, the sessions table, the index."""
    connection = op.get_bind()
    settings = dict(context.config.attributes.get("settings") or {})
    with op.batch_alter_table("social_login_identities") as batch:
        batch.add_column(sa.Column("issuer", sa.String(length=255), nullable=True))
    document = _published_document(connection)
    names = connection.execute(sa.select(identities.c.provider).distinct()).scalars().all()
    for name in names:
        values = (document.get(name) or {}).get("values") or {}
        connection.execute(sa.update(identities).where(identities.c.provider == name)
                           .values(issuer=issuer_of(name, values, settings)))

    def change() -> None:
        with op.batch_alter_table("social_login_identities") as batch:
            batch.alter_column("issuer", existing_type=sa.String(length=255), nullable=False)
            batch.drop_constraint("uq_social_login_identities_provider", type_="unique")
            batch.create_unique_constraint("uq_social_login_identities_provider",
                                           ["provider", "issuer", "provider_user_id"])

    _keep_tokens_while(connection, change)

    op.create_table(
        "social_login_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("userid", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_social_login_sessions")),
    )
    op.create_index(op.f("ix_social_login_sessions_userid"), "social_login_sessions",
                    ["userid"])
    op.create_index(op.f("ix_social_login_sessions_expires_at"), "social_login_sessions",
                    ["expires_at"])
    op.create_index(op.f("ix_social_login_states_binding"), "social_login_states",
                    ["binding"])


def downgrade() -> None:
    """Back to one identity per (provider, user id): fails while two issuers share one."""
    op.drop_index(op.f("ix_social_login_states_binding"), table_name="social_login_states")
    op.drop_index(op.f("ix_social_login_sessions_expires_at"),
                  table_name="social_login_sessions")
    op.drop_index(op.f("ix_social_login_sessions_userid"), table_name="social_login_sessions")
    op.drop_table("social_login_sessions")

    def change() -> None:
        with op.batch_alter_table("social_login_identities") as batch:
            batch.drop_constraint("uq_social_login_identities_provider", type_="unique")
            batch.create_unique_constraint("uq_social_login_identities_provider",
                                           ["provider", "provider_user_id"])
            batch.drop_column("issuer")

    _keep_tokens_while(op.get_bind(), change)
