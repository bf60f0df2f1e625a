"""action leases and undecided-batch candidates

Revision ID: 9a1e00000012
Revises: 9a1e00000013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import pyairtable_ui.core.db

revision: str = "9a1e00000012"
down_revision: str | None = "9a1e00000013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "lease_expires_at", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("action_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "candidates",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("action_steps", schema=None) as batch_op:
        batch_op.drop_column("candidates")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
