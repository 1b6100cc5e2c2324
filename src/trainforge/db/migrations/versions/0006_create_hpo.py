"""create hpo_studies and hpo_trials

Revision ID: 0006_create_hpo
Revises: 0005_create_notifications
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.db.types import JSONType, UTCDateTime

revision = "0006_create_hpo"
down_revision = "0005_create_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hpo_studies",
        sa.Column("study_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("study_name", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("model_type", sa.Text(), nullable=False),
        sa.Column("feature_set", sa.Text(), nullable=False),
        sa.Column("search_space", JSONType, nullable=False),
        sa.Column("optimization_strategy", sa.Text(), nullable=False),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("parallel_jobs", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("n_trials_completed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_trials_pruned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_trials_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("best_trial_number", sa.Integer(), nullable=True),
        sa.Column("best_value", sa.Float(), nullable=True),
        sa.Column("best_params", JSONType, nullable=True),
        sa.Column("best_rmse", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["training_jobs.job_id"],
            name="fk_hpo_studies_job_id_training_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", name="pk_hpo_studies"),
    )
    op.create_index("uq_hpo_studies_tenant_name", "hpo_studies", ["tenant_id", "study_name"], unique=True)
    op.create_index("uq_hpo_studies_job", "hpo_studies", ["job_id"], unique=True)
    op.create_index("ix_hpo_studies_tenant_created", "hpo_studies", ["tenant_id", "created_at"])
    op.create_index("ix_hpo_studies_status", "hpo_studies", ["status"])

    op.create_table(
        "hpo_trials",
        sa.Column("study_id", sa.Uuid(), nullable=False),
        sa.Column("trial_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("rmse", sa.Float(), nullable=True),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("datetime_start", UTCDateTime(), nullable=False),
        sa.Column("datetime_complete", UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["hpo_studies.study_id"],
            name="fk_hpo_trials_study_id_hpo_studies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", "trial_number", name="pk_hpo_trials"),
    )
    op.create_index("ix_hpo_trials_state", "hpo_trials", ["study_id", "state", "trial_number"])
    op.create_index("ix_hpo_trials_value", "hpo_trials", ["study_id", "value"])


def downgrade() -> None:
    op.drop_index("ix_hpo_trials_value", table_name="hpo_trials")
    op.drop_index("ix_hpo_trials_state", table_name="hpo_trials")
    op.drop_table("hpo_trials")
    op.drop_index("ix_hpo_studies_status", table_name="hpo_studies")
    op.drop_index("ix_hpo_studies_tenant_created", table_name="hpo_studies")
    op.drop_index("uq_hpo_studies_job", table_name="hpo_studies")
    op.drop_index("uq_hpo_studies_tenant_name", table_name="hpo_studies")
    op.drop_table("hpo_studies")
