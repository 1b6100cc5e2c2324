"""create schedules and schedule_firings

Revision ID: 0004_create_schedules
Revises: 0003_workers_leases_retries
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.db.types import JSONType, UTCDateTime

revision = "0004_create_schedules"
down_revision = "0003_workers_leases_retries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cron", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("job", JSONType, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_fired_at", UTCDateTime(), nullable=True),
        sa.Column("last_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("schedule_id", name="pk_schedules"),
    )
    op.create_index("uq_schedules_tenant_name", "schedules", ["tenant_id", "name"], unique=True)
    op.create_index("ix_schedules_due", "schedules", ["status", "next_run_at"])

    op.create_table(
        "schedule_firings",
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.schedule_id"],
            name="fk_schedule_firings_schedule_id_schedules",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "due_at", name="pk_schedule_firings"),
    )


def downgrade() -> None:
    op.drop_table("schedule_firings")
    op.drop_index("ix_schedules_due", table_name="schedules")
    op.drop_index("uq_schedules_tenant_name", table_name="schedules")
    op.drop_table("schedules")
