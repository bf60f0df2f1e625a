"""pending links: reset and verification links held for an admin when no SMTP is set

Revision ID: 9a1e00000014
Revises: 7b5fd0577411
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a1e00000014"
down_revision: str | None = "7b5fd0577411"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encrypted_link", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.drop_column("encrypted_link")
