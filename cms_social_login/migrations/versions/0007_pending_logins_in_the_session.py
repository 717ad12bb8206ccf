"""A pending login lives in the visitor's session; only used states are stored.

Starting a login wrote a row (``social_login_states``: the state's hash, the browser's
binding, where to go back to, the PKCE verifier, the nonce) and swept old ones, in a
transaction of its own. The pending login now lives in the visitor's signed session
cookie, so the start writes nothing; the callback inserts the state's hash into
``social_login_used_states``, so that it still works only once.

The old table is dropped: logins started before the upgrade and finished after it end on
the login page with "This login link has expired or was already used", and the visitor
starts again (nothing else is lost). Stop the old processes before upgrading, as with
every revision.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Make the used states' table; drop the pending states' table."""
    op.create_table(
        "social_login_used_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_social_login_used_states")),
    )
    op.create_index(op.f("ix_social_login_used_states_used_at"), "social_login_used_states",
                    ["used_at"], unique=False)
    op.drop_index(op.f("ix_social_login_states_binding"), table_name="social_login_states")
    op.drop_index(op.f("ix_social_login_states_created_at"), table_name="social_login_states")
    op.drop_table("social_login_states")


def downgrade() -> None:
    """The pending states' table as revision 0006 had it (empty: the pending logins of
    the sessions are not copied back), without the used states."""
    op.create_table(
        "social_login_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("came_from", sa.String(length=2048), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("nonce", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False, server_default="default"),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_social_login_states")),
    )
    op.create_index(op.f("ix_social_login_states_created_at"), "social_login_states",
                    ["created_at"], unique=False)
    op.create_index(op.f("ix_social_login_states_binding"), "social_login_states",
                    ["binding"], unique=False)
    op.drop_index(op.f("ix_social_login_used_states_used_at"),
                  table_name="social_login_used_states")
    op.drop_table("social_login_used_states")
