"""Initial schema: login settings (draft / published), publish history, linked
identities and pending SSO states.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create the four tables of the first release."""
    op.create_table(
        "social_login_settings",
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("stage", name=op.f("pk_social_login_settings")),
    )

    op.create_table(
        "social_login_publish_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_login_publish_history")),
    )
    op.create_index(op.f("ix_social_login_publish_history_published_at"),
                    "social_login_publish_history", ["published_at"], unique=False)

    op.create_table(
        "social_login_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("provider_user_id", sa.String(length=255), nullable=False),
        sa.Column("userid", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_login_identities")),
        # Also the index of the callback's identity lookup.
        sa.UniqueConstraint("provider", "provider_user_id",
                            name=op.f("uq_social_login_identities_provider")),
    )
    op.create_index(op.f("ix_social_login_identities_userid"), "social_login_identities",
                    ["userid"], unique=False)

    op.create_table(
        "social_login_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("came_from", sa.String(length=2048), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("nonce", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_social_login_states")),
    )
    op.create_index(op.f("ix_social_login_states_created_at"), "social_login_states",
                    ["created_at"], unique=False)


def downgrade() -> None:
    """Drop the four tables (and everything in them)."""
    op.drop_index(op.f("ix_social_login_states_created_at"), table_name="social_login_states")
    op.drop_table("social_login_states")
    op.drop_index(op.f("ix_social_login_identities_userid"),
                  table_name="social_login_identities")
    op.drop_table("social_login_identities")
    op.drop_index(op.f("ix_social_login_publish_history_published_at"),
                  table_name="social_login_publish_history")
    op.drop_table("social_login_publish_history")
    op.drop_table("social_login_settings")
