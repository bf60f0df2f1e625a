"""analytics: messages and actions indexed by time; airtable_usage daily counts

Revision ID: 9a1e00000015
Revises: 9a1e00000012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "9a1e00000015"
down_revision: str | None = "9a1e00000012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The analytics page aggregates a period of rows by time: without these, every
    # figure would scan the whole table.
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index("ix_actions_created_at", "actions", ["created_at"])
    # Airtable requests and 429s per user, base and day, counted from this version on.
    op.create_table(
        "airtable_usage",
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("base_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("rate_limited", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("day", "user_id", "base_id"),
    )


def downgrade() -> None:
    op.drop_table("airtable_usage")
    op.drop_index("ix_actions_created_at", table_name="actions")
    op.drop_index("ix_messages_created_at", table_name="messages")
