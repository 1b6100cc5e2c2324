"""The metadata database's tables (SQLAlchemy Core), the single source of the schema.

Alembic migrations under ``migrations/versions`` must produce exactly this; ``tests/integration/test_migrations.py``
checks it. Column names follow the specification's ``ai_training_jobs`` table.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
)

from trainforge.db.types import JSONType, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for append-only tables.
AutoIncrementId = BigInteger().with_variant(Integer(), "sqlite")

training_jobs = Table(
    "training_jobs",
    metadata,
    Column("job_id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("model_type", Text, nullable=False),
    Column("model_name", Text, nullable=False),
    Column("feature_set", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("config", JSONType, nullable=False),
    Column("schedule", Text),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("current_step", Text),
    Column("metrics", JSONType),
    Column("error_message", Text),
    Column("model_id", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("worker_id", Text),
    Column("lease_expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", Text),
    Column("tags", JSONType),
    Index("ix_training_jobs_tenant", "tenant_id"),
    Index("ix_training_jobs_status", "status"),
    Index("ix_training_jobs_created", "created_at"),
    # The claim query: queued jobs by priority, then age.
    Index("ix_training_jobs_claim", "status", "priority", "created_at"),
)

training_job_events = Table(
    "training_job_events",
    metadata,
    Column("event_id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("job_id", Uuid, ForeignKey("training_jobs.job_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("worker_id", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

training_job_logs = Table(
    "training_job_logs",
    metadata,
    Column("log_id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("job_id", Uuid, ForeignKey("training_jobs.job_id", ondelete="CASCADE"), nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("level", Text, nullable=False),
    Column("step", Text),
    Column("message", Text, nullable=False),
    Index("ix_training_job_logs_job", "job_id", "log_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("key_hash", Text, nullable=False),  # sha256 of the secret (see trainforge.tenancy.keys)
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)
