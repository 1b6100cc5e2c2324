"""workers table, retry bookkeeping, priority aging and the lease index on training_jobs

Revision ID: 0003_workers_leases_retries
Revises: 0002_create_api_keys
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.db.types import UTCDateTime

revision = "0003_workers_leases_retries"
down_revision = "0002_create_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False))
        batch.add_column(sa.Column("not_before", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("virtual_enqueued_at", UTCDateTime(), nullable=True))
    # Jobs queued before this revision keep their order: no priority shift for them.
    op.execute("UPDATE training_jobs SET virtual_enqueued_at = created_at")
    with op.batch_alter_table("training_jobs") as batch:
        batch.alter_column("virtual_enqueued_at", existing_type=UTCDateTime(), nullable=False)
    op.create_index("ix_training_jobs_lease", "training_jobs", ["status", "lease_expires_at"])
    op.create_index("ix_training_jobs_virtual_enqueued", "training_jobs", ["status", "virtual_enqueued_at"])
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.Text(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("worker_id", name="pk_workers"),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index("ix_training_jobs_lease", table_name="training_jobs")
    op.drop_index("ix_training_jobs_virtual_enqueued", table_name="training_jobs")
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("virtual_enqueued_at")
        batch.drop_column("not_before")
        batch.drop_column("max_attempts")
