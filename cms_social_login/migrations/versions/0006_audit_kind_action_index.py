"""The audit page's counts of sign-ins by outcome read only the rows they count.

``social_login_audit`` gets an index on (site, kind, action, at): the per-provider counts
of the editor's audit page, filtered by an outcome ("Signed in", "Cancelled at the
provider", ...), read their newest 1,000 rows straight from it instead of walking every
event of the period (editor actions and the other outcomes too); so does the page
filtered by an editor action. 100,000 audit rows, filtered by "Signed in": 4,012 buffers
before, 1,013 after. (A plain index: a partial one would need dialect options on the
model, and SQLAlchemy loads a dialect to check its options, in every worker.)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

INDEX = "ix_social_login_audit_site_kind_action_at"


def upgrade() -> None:
    """Add the index."""
    op.create_index(INDEX, "social_login_audit", ["site", "kind", "action", "at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index(INDEX, table_name="social_login_audit")
