"""create training_jobs, training_job_events and training_job_logs

Revision ID: 0001_create_training_jobs
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.db.tables import AutoIncrementId
from trainforge.db.types import JSONType, UTCDateTime

revision = "0001_create_training_jobs"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("model_type", sa.Text(), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("feature_set", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("current_step", sa.Text(), nullable=True),
        sa.Column("metrics", JSONType, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("model_id", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("worker_id", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("tags", JSONType, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_training_jobs"),
    )
    op.create_index("ix_training_jobs_tenant", "training_jobs", ["tenant_id"])
    op.create_index("ix_training_jobs_status", "training_jobs", ["status"])
    op.create_index("ix_training_jobs_created", "training_jobs", ["created_at"])
    op.create_index("ix_training_jobs_claim", "training_jobs", ["status", "priority", "created_at"])

    op.create_table(
        "training_job_events",
        sa.Column("event_id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["training_jobs.job_id"],
            name="fk_training_job_events_job_id_training_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_training_job_events"),
    )
    op.create_index("ix_training_job_events_job_id", "training_job_events", ["job_id"])

    op.create_table(
        "training_job_logs",
        sa.Column("log_id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("step", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["training_jobs.job_id"],
            name="fk_training_job_logs_job_id_training_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("log_id", name="pk_training_job_logs"),
    )
    op.create_index("ix_training_job_logs_job", "training_job_logs", ["job_id", "log_id"])


def downgrade() -> None:
    op.drop_table("training_job_logs")
    op.drop_table("training_job_events")
    op.drop_table("training_jobs")
