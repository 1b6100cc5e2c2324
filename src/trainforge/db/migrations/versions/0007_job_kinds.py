"""training_jobs.kind: what a job does (train, tune, ...); tuning settings nested in config.tuning

Revision ID: 0007_job_kinds
Revises: 0006_create_hpo
Create Date: 2026-12-03

Every job so far is a ``train`` job, except those with a study (``config.enable_hpo``), which are ``tune`` jobs.
Their stored configs move the flat tuning fields (``n_trials``, ``optimization_strategy``, ``parallel_jobs``,
``timeout_seconds``, ``hpo_seed``) into ``config.tuning``, the one place the code reads them from now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.db.types import JSONType

revision = "0007_job_kinds"
down_revision = "0006_create_hpo"
branch_labels = None
depends_on = None

# The flat names of the old config -> their name in config.tuning. Only this migration knows the old names.
_FLAT_TUNING = {
    "n_trials": "n_trials",
    "optimization_strategy": "optimization_strategy",
    "parallel_jobs": "parallel_jobs",
    "timeout_seconds": "timeout_seconds",
    "hpo_seed": "seed",
}


def upgrade() -> None:
    op.add_column("training_jobs", sa.Column("kind", sa.Text(), nullable=False, server_default="train"))
    jobs = sa.table("training_jobs", sa.column("job_id", sa.Uuid()), sa.column("kind"), sa.column("config", JSONType))
    studies = sa.table("hpo_studies", sa.column("job_id", sa.Uuid()))
    conn = op.get_bind()
    conn.execute(jobs.update().where(jobs.c.job_id.in_(sa.select(studies.c.job_id))).values(kind="tune"))
    for job_id, config in conn.execute(sa.select(jobs.c.job_id, jobs.c.config)).all():
        if not isinstance(config, dict) or not any(name in config for name in _FLAT_TUNING):
            continue
        tuning = dict(config.get("tuning") or {})
        rest = {}
        for name, value in config.items():
            if name in _FLAT_TUNING:
                tuning[_FLAT_TUNING[name]] = value
            else:
                rest[name] = value
        conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(config={**rest, "tuning": tuning}))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("kind")
