"""schedules: scheduled prompts and their runs (the timers themselves live in the engine's tables)

Revision ID: 9a1e00000018
Revises: 9a1e00000019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import pyairtable_ui.core.db

revision: str = "9a1e00000018"
down_revision: str | None = "9a1e00000019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("schedules",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column("prompt", sa.Text(), nullable=False),
    sa.Column("base_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column("base_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column("cron", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("paused_reason", sa.Text(), nullable=True),
    sa.Column("consecutive_failures", sa.Integer(), nullable=False),
    sa.Column("email_answer", sa.Boolean(), nullable=False),
    sa.Column("created_at", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("updated_at", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("last_run_at", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index("ix_schedules_user_id", ["user_id"], unique=False)

    op.create_table("schedule_runs",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("schedule_id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column("conversation_id", sa.Integer(), nullable=True),
    sa.Column("manual", sa.Boolean(), nullable=False),
    sa.Column("scheduled_for", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("started_at", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("finished_at", pyairtable_ui.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("answer", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("proposed_actions", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("workflow_id")
    )
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index("ix_schedule_runs_schedule_started", ["schedule_id", "started_at"], unique=False)
        batch_op.create_index("ix_schedule_runs_user_started", ["user_id", "started_at"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_runs_user_started")
        batch_op.drop_index("ix_schedule_runs_schedule_started")

    op.drop_table("schedule_runs")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_user_id")

    op.drop_table("schedules")
