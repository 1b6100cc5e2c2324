"""create webhooks and notification deliveries

Revision ID: 0005_create_notifications
Revises: 0004_create_schedules
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.db.tables import AutoIncrementId
from trainforge.db.types import JSONType, UTCDateTime

revision = "0005_create_notifications"
down_revision = "0004_create_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("webhook_id", name="pk_webhooks"),
    )
    op.create_index("ix_webhooks_tenant_id", "webhooks", ["tenant_id"])

    op.create_table(
        "notification_deliveries",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", AutoIncrementId, nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claim_expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.webhook_id"],
            name="fk_notification_deliveries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["training_job_events.event_id"],
            name="fk_notification_deliveries_event_id_training_job_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_notification_deliveries"),
    )
    op.create_index(
        "uq_notification_deliveries_webhook_event", "notification_deliveries", ["webhook_id", "event_id"], unique=True
    )
    op.create_index("ix_notification_deliveries_due", "notification_deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "notification_attempts",
        sa.Column("attempt_id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_deliveries.delivery_id"],
            name="fk_notification_attempts_delivery_id_notification_deliveries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_notification_attempts"),
    )
    op.create_index("ix_notification_attempts_delivery", "notification_attempts", ["delivery_id", "attempt_id"])

    op.create_table(
        "notification_cursors",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("event_id", AutoIncrementId, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_notification_cursors"),
    )

    op.create_index("ix_training_job_events_status_created", "training_job_events", ["to_status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_training_job_events_status_created", table_name="training_job_events")
    op.drop_table("notification_cursors")
    op.drop_table("notification_attempts")
    op.drop_table("notification_deliveries")
    op.drop_table("webhooks")
