"""Audit log of editor actions and sign-ins; stored provider tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create the audit and token tables."""
    op.create_table(
        "social_login_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_login_audit")),
    )
    op.create_index(op.f("ix_social_login_audit_at"), "social_login_audit", ["at"])
    op.create_table(
        "social_login_tokens",
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scopes", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["social_login_identities.id"], ondelete="CASCADE",
            name=op.f("fk_social_login_tokens_identity_id_social_login_identities")),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_social_login_tokens")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("social_login_tokens")
    op.drop_index(op.f("ix_social_login_audit_at"), table_name="social_login_audit")
    op.drop_table("social_login_audit")
