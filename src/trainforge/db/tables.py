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
    # What the job does: the name of its kind (trainforge.kinds: train, tune, ...).
    Column("kind", Text, nullable=False, server_default="train"),
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
    Column("max_attempts", Integer, nullable=False, server_default="3"),
    # A queued job is not claimed before this time (the backoff of a retry).
    Column("not_before", UTCDateTime),
    # created_at moved earlier by priority x the aging interval: claims take the earliest, so priority counts
    # as waiting time and a job is only ever overtaken by jobs that arrive within a bounded time after it.
    Column("virtual_enqueued_at", UTCDateTime, nullable=False),
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
    Index("ix_training_jobs_virtual_enqueued", "status", "virtual_enqueued_at"),
    # The reaper's query: running jobs whose lease has expired.
    Index("ix_training_jobs_lease", "status", "lease_expires_at"),
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
    Column("key_hash", Text, nullable=False),  # sha256 of the secret (see trainforge.tenancy._keys)
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", Text, primary_key=True),
    Column("hostname", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("status", Text, nullable=False),  # running | draining | stopped
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),
)

# -- notifications: per-tenant webhooks and their delivery log (trainforge.notifications) -----------------------
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False, index=True),
    Column("name", Text),
    Column("url", Text, nullable=False),
    Column("events", JSONType, nullable=False),  # the job statuses it is told about: completed, failed, cancelled
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Text),
)

# One row per (webhook, job event): the outbox. The unique index is what stops two dispatchers creating it twice.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("delivery_id", Uuid, primary_key=True),
    Column("webhook_id", Uuid, ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), nullable=False),
    Column("event_id", AutoIncrementId, ForeignKey("training_job_events.event_id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("job_id", Uuid, nullable=False),
    Column("event", Text, nullable=False),
    Column("payload", JSONType, nullable=False),  # the JSON body, fixed when the delivery is created
    Column("status", Text, nullable=False),  # pending | sending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", Text),
    Column("claim_expires_at", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("uq_notification_deliveries_webhook_event", "webhook_id", "event_id", unique=True),
    # The dispatcher's claim: due deliveries in order.
    Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("attempt_id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("notification_deliveries.delivery_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Index("ix_notification_attempts_delivery", "delivery_id", "attempt_id"),
)

# How far the dispatchers have turned job events into deliveries (one row per reader, by name).
notification_cursors = Table(
    "notification_cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("event_id", AutoIncrementId, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# /metrics reads the recent claims and endings of jobs by event type and time (trainforge.observability).
Index("ix_training_job_events_status_created", training_job_events.c.to_status, training_job_events.c.created_at)

# Recurring training (trainforge.schedules). A schedule holds a whole job request and the next time it is due.
schedules = Table(
    "schedules",
    metadata,
    Column("schedule_id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("cron", Text, nullable=False),  # five fields or an alias such as @daily
    Column("timezone", Text, nullable=False),  # IANA name; the cron is read on this zone's wall clock
    Column("job", JSONType, nullable=False),  # the checked job request that each firing queues
    Column("status", Text, nullable=False),  # active | paused
    Column("next_run_at", UTCDateTime),  # null while paused
    Column("last_fired_at", UTCDateTime),
    Column("last_job_id", Uuid),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", Text),
    Index("uq_schedules_tenant_name", "tenant_id", "name", unique=True),
    # The scheduler's query: active schedules that are due.
    Index("ix_schedules_due", "status", "next_run_at"),
)

# One row per fired due time: the primary key is the claim, so a due time fires once however many schedulers run.
schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("schedule_id", Uuid, ForeignKey("schedules.schedule_id", ondelete="CASCADE"), primary_key=True),
    Column("due_at", UTCDateTime, primary_key=True),
    Column("fired_at", UTCDateTime, nullable=False),
    Column("skipped", Integer, nullable=False, server_default="0"),  # later missed due times coalesced into this one
    Column("job_id", Uuid),  # the queued job; a reference, not a foreign key, so job retention stays independent
)

# Hyperparameter optimisation (trainforge.hpo). A study is run by a training job (config.enable_hpo); its status is
# the job's. Optuna's own storage holds the study's trials; hpo_trials mirrors them (written by the coordinator's
# listener) so the API reads a tenant's trials and best trial from indexed rows, never from a whole Optuna study.
hpo_studies = Table(
    "hpo_studies",
    metadata,
    Column("study_id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("study_name", Text, nullable=False),
    Column("job_id", Uuid, ForeignKey("training_jobs.job_id", ondelete="CASCADE"), nullable=False),
    Column("model_type", Text, nullable=False),
    Column("feature_set", Text, nullable=False),
    Column("search_space", JSONType, nullable=False),  # the normalised space (SearchSpace.as_json())
    Column("optimization_strategy", Text, nullable=False),  # tpe | random | grid | cmaes | qmc | gp
    Column("n_trials", Integer, nullable=False),
    Column("parallel_jobs", Integer, nullable=False),
    Column("timeout_seconds", Float),
    Column("seed", BigInteger),
    Column("status", Text, nullable=False),  # the coordinator's last word; the API reads the job's status
    Column("n_trials_completed", Integer, nullable=False, server_default="0"),
    Column("n_trials_pruned", Integer, nullable=False, server_default="0"),
    Column("n_trials_failed", Integer, nullable=False, server_default="0"),
    Column("best_trial_number", Integer),
    Column("best_value", Float),  # validation MAE of the best trial (lower is better)
    Column("best_params", JSONType),
    Column("best_rmse", Float),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Index("uq_hpo_studies_tenant_name", "tenant_id", "study_name", unique=True),
    Index("uq_hpo_studies_job", "job_id", unique=True),
    # The listing: a tenant's studies, newest first.
    Index("ix_hpo_studies_tenant_created", "tenant_id", "created_at"),
    Index("ix_hpo_studies_status", "status"),
)

hpo_trials = Table(
    "hpo_trials",
    metadata,
    Column("study_id", Uuid, ForeignKey("hpo_studies.study_id", ondelete="CASCADE"), primary_key=True),
    Column("trial_number", Integer, primary_key=True),  # Optuna's trial number: the API's trial_id
    Column("state", Text, nullable=False),  # RUNNING | COMPLETE | PRUNED | FAIL
    Column("value", Float),
    Column("rmse", Float),
    Column("params", JSONType, nullable=False),
    Column("datetime_start", UTCDateTime, nullable=False),
    Column("datetime_complete", UTCDateTime),
    Column("duration_seconds", Float),
    Column("error", Text),
    # A page of trials, all or in one state, in trial order; and the best trials by value.
    Index("ix_hpo_trials_state", "study_id", "state", "trial_number"),
    Index("ix_hpo_trials_value", "study_id", "value"),
)
