"""init

Revision ID: b6f0a1c2d3e4
Revises:
Create Date: 2026-11-30 04:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b6f0a1c2d3e4"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
    )
    op.create_index("my_index", "models", ["name"], unique=True, mysql_length=255)


def downgrade():
    op.drop_index("my_index", table_name="models")
    op.drop_table("models")
