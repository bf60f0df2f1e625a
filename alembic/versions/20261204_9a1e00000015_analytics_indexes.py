"""analytics indexes: messages and actions by creation time

Revision ID: 9a1e00000015
Revises: 9a1e00000012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

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


def downgrade() -> None:
    op.drop_index("ix_actions_created_at", table_name="actions")
    op.drop_index("ix_messages_created_at", table_name="messages")
