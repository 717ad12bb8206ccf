"""Many sites, one deployment: a leading ``site`` key on every per-site table.

Every row made before sites existed belongs to the site ``"default"`` (the server
default backfills it), the site of a single-site host, so nothing is lost and nothing
changes for it.

- ``social_login_settings``: the primary key becomes (site, stage).
- ``social_login_identities``: the unique key becomes (site, provider, issuer,
  provider_user_id): the same person on two sites is two identities. Stored tokens
  follow their identity (``social_login_tokens.identity_id``).
- ``social_login_publish_history``, ``social_login_audit``: indexed by (site, id) and
  (site, at), the orders the editor's pages read them in.
- ``social_login_states``, ``social_login_sessions``: a login completes, and a
  signed-in session counts, only on the site it was made on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

DEFAULT_SITE = "default"
#: The per-site tables whose keys do not change (only the column is added).
PLAIN_TABLES = ("social_login_publish_history", "social_login_audit", "social_login_states",
                "social_login_sessions")
tokens = sa.table("social_login_tokens", *(sa.column(name) for name in (
    "identity_id", "access_token", "refresh_token", "expires_at", "scopes", "updated_at",
    "version")))


def _site_column() -> sa.Column:
    return sa.Column("site", sa.String(length=64), nullable=False,
                     server_default=DEFAULT_SITE)


def _keep_tokens_while(connection: sa.engine.Connection, change) -> None:
    """Run ``change`` (a batch alteration of the identities table) without losing tokens.

    On SQLite a batch alteration copies the table and drops the old one; with foreign
    keys on, the drop deletes every stored token through ``ON DELETE CASCADE`` (see
    revision 0003). The rows are read first and put back.
    """
    saved = []
    if connection.dialect.name == "sqlite":
        saved = [dict(row._mapping) for row in connection.execute(sa.select(tokens))]
    change()
    if saved:
        connection.execute(sa.delete(tokens))
        connection.execute(sa.insert(tokens), saved)


def upgrade() -> None:
    """Add ``site`` (today's rows: ``"default"``) and make it lead the keys."""
    connection = op.get_bind()
    with op.batch_alter_table("social_login_settings") as batch:
        batch.add_column(_site_column())
        batch.drop_constraint("pk_social_login_settings", type_="primary")
        batch.create_primary_key("pk_social_login_settings", ["site", "stage"])

    def change() -> None:
        with op.batch_alter_table("social_login_identities") as batch:
            batch.add_column(_site_column())
            batch.drop_constraint("uq_social_login_identities_provider", type_="unique")
            batch.create_unique_constraint(
                "uq_social_login_identities_site",
                ["site", "provider", "issuer", "provider_user_id"])

    _keep_tokens_while(connection, change)

    for table in PLAIN_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_site_column())
    op.create_index(op.f("ix_social_login_publish_history_site_id"),
                    "social_login_publish_history", ["site", "id"])
    op.create_index(op.f("ix_social_login_audit_site_at"), "social_login_audit",
                    ["site", "at"])


def downgrade() -> None:
    """Back to one site: refused while another site than ``"default"`` has rows."""
    connection = op.get_bind()
    for table in ("social_login_settings", "social_login_identities", *PLAIN_TABLES):
        others = connection.execute(sa.text(
            f"SELECT count(*) FROM {table} WHERE site <> :site"), {"site": DEFAULT_SITE}
        ).scalar()
        if others:
            raise RuntimeError(f"cannot downgrade below 0004: {table} holds {others} rows of "
                               "other sites than 'default' (export and delete them first)")
    op.drop_index(op.f("ix_social_login_audit_site_at"), table_name="social_login_audit")
    op.drop_index(op.f("ix_social_login_publish_history_site_id"),
                  table_name="social_login_publish_history")
    for table in PLAIN_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("site")

    def change() -> None:
        with op.batch_alter_table("social_login_identities") as batch:
            batch.drop_constraint("uq_social_login_identities_site", type_="unique")
            batch.create_unique_constraint("uq_social_login_identities_provider",
                                           ["provider", "issuer", "provider_user_id"])
            batch.drop_column("site")

    _keep_tokens_while(connection, change)
    with op.batch_alter_table("social_login_settings") as batch:
        batch.drop_constraint("pk_social_login_settings", type_="primary")
        batch.create_primary_key("pk_social_login_settings", ["stage"])
        batch.drop_column("site")
