"""The durable job queue and job history, on the metadata database (SQLite or PostgreSQL).

Contract:
- Every status change goes through :meth:`JobStore.transition`, one conditional ``UPDATE … WHERE status IN
  (allowed sources)``. Zero rows updated means the transition was illegal (or the job does not exist) and nothing
  changes. Each successful transition writes a ``training_job_events`` row in the same transaction.
- :meth:`JobStore.claim_next` hands each queued job to exactly one caller: ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL (many workers claim concurrently without blocking each other); on SQLite the write transaction is
  ``BEGIN IMMEDIATE``, which serialises claims.
- All methods are thread-safe (each uses its own connection) and may be called from many processes.
- ``tenant_id`` arguments, where given, scope the query itself: another tenant's job is "not found".
- Claims follow ``virtual_enqueued_at`` (creation time moved earlier by priority x the aging interval), honour a
  retry's ``not_before``, and respect the concurrency limits given to :meth:`JobStore.claim_next`.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Connection, Engine, Select, Update, bindparam, func, insert, or_, select, text, update

from trainforge.db.engine import read_transaction, write_transaction
from trainforge.db.tables import training_job_events, training_job_logs, training_jobs
from trainforge.db.types import utcnow
from trainforge.errors import IllegalTransition, JobNotFound
from trainforge.jobs.records import JobEvent, JobRecord, LogLine, NewJob, PendingLog
from trainforge.jobs.status import JobStatus, sources_of

jobs = training_jobs.c
# Built once, with bound parameters: status polls run these hundreds of times a second, and building a statement
# and its cache key on every call cost a fifth of the read.
# Each in two forms: any tenant's job, and only a given tenant's (see JobStore._select_job).
_JOB_BY_ID = select(training_jobs).where(jobs.job_id == bindparam("job_id"))
_GET_JOB = (_JOB_BY_ID, _JOB_BY_ID.where(jobs.tenant_id == bindparam("tenant_id")))
# What a transition needs of the row it locks: its status and metrics (not all 26 columns, each described anew).
_LOCKED = select(jobs.status, jobs.metrics).where(jobs.job_id == bindparam("job_id")).with_for_update()
_LOCK_JOB = (_LOCKED, _LOCKED.where(jobs.tenant_id == bindparam("tenant_id")))
_METRICS_BY_ID = select(jobs.metrics).where(jobs.job_id == bindparam("job_id"))
_STATUS_BY_ID = select(jobs.status).where(jobs.job_id == bindparam("job_id"))
_INSERT_EVENT = insert(training_job_events)
_INSERT_LOGS = insert(training_job_logs)
_COLUMNS = frozenset(training_jobs.c.keys())
# The worker's writes are built once too (a short job makes half a dozen): an UPDATE whose SET clause comes from
# the names of the parameters it is executed with. The WHERE clause's parameters are prefixed so that they never
# take a column's name, which SQLAlchemy reserves for the SET clause.
_PROGRESS_UPDATE = (
    update(training_jobs)
    .where(
        jobs.job_id == bindparam("where_job_id"),
        jobs.status == JobStatus.RUNNING.value,
        jobs.worker_id == bindparam("where_worker_id"),
    )
    .returning(jobs.status)
)
# A log line to append: (level, step, message), or a PendingLog that also says when it happened.
LogInput = tuple[str, str | None, str] | PendingLog


# Any constant will do: it names the PostgreSQL advisory lock that serialises claims when limits apply.
_CLAIM_LOCK_KEY = 0x7472_6E66  # "trnf"
DEFAULT_AGING_SECONDS = 60.0


class JobStore:
    """Queue operations and job history over one SQLAlchemy engine.

    Args:
        engine: the metadata database.
        aging_seconds: how much waiting one priority point is worth (see ``virtual_enqueued_at``).
    """

    def __init__(self, engine: Engine, *, aging_seconds: float = DEFAULT_AGING_SECONDS) -> None:
        self.engine = engine
        self.aging_seconds = aging_seconds

    # -- writing -------------------------------------------------------------------------------------------
    def enqueue(self, job: NewJob, *, reason: str = "submitted", now: datetime | None = None) -> JobRecord:
        """Insert a new job in status ``queued`` and record the event (``now`` is injectable for tests)."""
        with write_transaction(self.engine) as conn:
            return self.enqueue_in(conn, job, reason=reason, now=now)

    def enqueue_in(
        self, conn: Connection, job: NewJob, *, reason: str = "submitted", now: datetime | None = None
    ) -> JobRecord:
        """:meth:`enqueue` inside a transaction the caller holds, so that queueing the job commits (or rolls back)
        together with the caller's own writes (a schedule's firing, for one)."""
        now = now or utcnow()
        job_id = uuid.uuid4()
        row = (
            conn.execute(
                insert(training_jobs)
                .returning(*training_jobs.c)
                .values(
                    job_id=job_id,
                    tenant_id=job.tenant_id,
                    model_type=job.model_type,
                    model_name=job.model_name,
                    feature_set=job.feature_set,
                    kind=job.kind,
                    status=JobStatus.QUEUED.value,
                    priority=job.priority,
                    max_attempts=job.max_attempts,
                    virtual_enqueued_at=now - timedelta(seconds=job.priority * self.aging_seconds),
                    config=job.config,
                    schedule=job.schedule,
                    progress=0.0,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                    created_by=job.created_by,
                    tags=job.tags,
                )
            )
            .mappings()
            .one()
        )
        self._record_event(conn, job_id, None, JobStatus.QUEUED, reason, None, now)
        self._insert_logs(conn, job_id, now, [("INFO", None, f"Job queued ({reason})")])
        return JobRecord.from_row(row)

    def claim_next(
        self,
        worker_id: str,
        *,
        lease_seconds: float = 60.0,
        max_running: int | None = None,
        max_running_per_tenant: int | None = None,
        now: datetime | None = None,
    ) -> JobRecord | None:
        """Atomically take the queued job that has waited longest (counting priority as waiting time) and mark it
        ``running`` for ``worker_id``.

        Args:
            worker_id: the claiming worker.
            lease_seconds: how long the claim holds without a heartbeat.
            max_running: claim nothing while this many jobs run in all.
            max_running_per_tenant: skip the jobs of tenants that have this many running.
            now: the current time (injectable for tests).
        """
        now = now or utcnow()
        with write_transaction(self.engine) as conn:
            if (max_running or max_running_per_tenant) and conn.dialect.name == "postgresql":
                # Counting running jobs and claiming must be one step, or two workers that both count 4 of 5
                # would both claim. SQLite's BEGIN IMMEDIATE already serialises; PostgreSQL needs the lock.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})
            if max_running is not None and conn.execute(_COUNT_RUNNING).scalar_one() >= max_running:
                return None
            claimed = (
                conn.execute(
                    _claim_statement(per_tenant_limit=max_running_per_tenant is not None),
                    {
                        "now": now,
                        "per_tenant": max_running_per_tenant,
                        "new_worker_id": worker_id,
                        "new_lease_expires_at": now + timedelta(seconds=lease_seconds),
                    },
                )
                .mappings()
                .one_or_none()
            )
            if claimed is None:
                return None
            self._record_event(conn, claimed["job_id"], JobStatus.QUEUED, JobStatus.RUNNING, "claimed", worker_id, now)
            return JobRecord.from_row(claimed)

    def reap_expired_leases(self, *, now: datetime | None = None) -> list[JobRecord]:
        """Return to the queue (or fail, after their last attempt) the running jobs whose lease has expired: their
        worker stopped heartbeating, so it is presumed dead. Safe to run from every worker at once."""
        now = now or utcnow()
        with read_transaction(self.engine) as conn:
            expired = conn.execute(
                select(jobs.job_id, jobs.worker_id, jobs.attempts, jobs.max_attempts).where(
                    jobs.status == JobStatus.RUNNING.value, jobs.lease_expires_at < now
                )
            ).all()
        reaped = []
        for job_id, worker_id, attempts, max_attempts in expired:
            last = attempts >= max_attempts
            target = JobStatus.FAILED if last else JobStatus.QUEUED
            reason = f"lease expired: worker {worker_id} stopped heartbeating" + (
                f" during the last of {max_attempts} attempts" if last else ""
            )
            extra = {"error_message": reason} if last else {}
            # IllegalTransition: the worker came back (renewed its lease) or another reaper got there first.
            with contextlib.suppress(IllegalTransition):
                reaped.append(
                    self.transition(
                        job_id, target, reason=reason, worker_id=worker_id, lease_expired_before=now, **extra
                    )
                )
        return reaped

    def transition(
        self,
        job_id: UUID,
        target: JobStatus,
        *,
        reason: str,
        tenant_id: str | None = None,
        worker_id: str | None = None,
        lease_expired_before: datetime | None = None,
        merge_metrics: dict[str, Any] | None = None,
        logs: Iterable[LogInput] = (),
        only_from: Collection[JobStatus] | None = None,
        **fields: Any,
    ) -> JobRecord:
        """Move a job to ``target`` if the state machine allows it from its current status.

        Args:
            job_id: the job.
            target: the new status.
            reason: why (stored in the event row and shown in the job's log).
            tenant_id: if given, only a job of this tenant is found.
            worker_id: the worker making the change, if any; with it, a running job is only changed if this
                worker still holds it (a worker whose lease was taken over cannot overwrite the new owner's work).
            lease_expired_before: only change the job if its lease expired before this time (the reaper's guard
                against a heartbeat that renewed the lease in the meantime).
            merge_metrics: metrics to add to the job's (read under the same row lock, so none recorded by a
                progress event is lost).
            logs: log lines to append in the same transaction, before the transition's own (a worker's last
                buffered events); written only if the transition happens.
            only_from: if given, the job must also be in one of these statuses: fewer sources than the state
                machine allows ``target`` from (a user's retry: :data:`~trainforge.jobs.status.RETRYABLE`).
            **fields: other columns to set in the same UPDATE (``metrics``, ``model_id``, ``error_message``, …).

        Raises:
            JobNotFound: no such job (for this tenant).
            IllegalTransition: the job's status does not allow ``target``.
        """
        unknown = fields.keys() - _COLUMNS
        if unknown:  # the SET clause comes from the parameters' names, and SQLAlchemy would skip an unknown one
            raise TypeError(f"transition() got fields that are not columns of training_jobs: {sorted(unknown)}")
        now = utcnow()
        allowed = sources_of(target) if only_from is None else sources_of(target) & frozenset(only_from)
        sources = sorted(status.value for status in allowed)
        values: dict[str, Any] = {"status": target.value, "updated_at": now, **fields}
        if target.is_terminal:
            values.setdefault("completed_at", now)
            values.setdefault("lease_expires_at", None)
        if target is JobStatus.QUEUED:
            values.update(worker_id=None, lease_expires_at=None)
        with write_transaction(self.engine) as conn:
            current = self._lock_current(conn, job_id, tenant_id)
            if merge_metrics is not None:
                values["metrics"] = {**(current.metrics or {}), **merge_metrics}
            held = worker_id is not None and current.status is JobStatus.RUNNING
            statement = _transition_statement(held_by_worker=held, lease_guard=lease_expired_before is not None)
            where = {"where_job_id": job_id, "where_sources": sources}
            if held:
                where["where_worker_id"] = worker_id
            if lease_expired_before is not None:
                where["where_lease_before"] = lease_expired_before
            changed = conn.execute(statement, {**values, **where}).mappings().one_or_none()
            if changed is None:
                raise IllegalTransition(job_id, current.status.value, target.value)
            self._record_event(conn, job_id, current.status, target, reason, worker_id, now)
            level = "ERROR" if target is JobStatus.FAILED else "INFO"
            own = (level, None, f"Job {current.status.value} -> {target.value}: {reason}")
            self._insert_logs(conn, job_id, now, [*logs, own])
            return JobRecord.from_row(changed)

    def report_progress(
        self,
        job_id: UUID,
        *,
        worker_id: str,
        progress: float | None = None,
        step: str | None = None,
        metrics: dict[str, Any] | None = None,
        logs: Iterable[LogInput] = (),
        lease_seconds: float = 60.0,
    ) -> JobStatus:
        """Record progress of a running job and renew its lease, in one transaction; returns the job's status (so
        the worker sees a cancellation). Does nothing to a job this worker no longer holds, but its ``logs``
        (``(level, step, message)`` lines) are appended whatever its status."""
        with write_transaction(self.engine) as conn:
            return self.report_progress_in(
                conn,
                job_id,
                worker_id=worker_id,
                progress=progress,
                step=step,
                metrics=metrics,
                logs=logs,
                lease_seconds=lease_seconds,
            )

    def report_progress_in(
        self,
        conn: Connection,
        job_id: UUID,
        *,
        worker_id: str,
        progress: float | None = None,
        step: str | None = None,
        metrics: dict[str, Any] | None = None,
        logs: Iterable[LogInput] = (),
        lease_seconds: float = 60.0,
    ) -> JobStatus:
        """:meth:`report_progress` inside a write transaction the caller holds, so that a batch of events (or a
        study's trial and the job's progress) costs one commit, not one each."""
        now = utcnow()
        values: dict[str, Any] = {
            "updated_at": now,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
        }
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, progress))
        if step is not None:
            values["current_step"] = step
        self._insert_logs(conn, job_id, now, logs)
        if metrics:
            current = conn.execute(_METRICS_BY_ID, {"job_id": job_id}).scalar_one_or_none()
            values["metrics"] = {**(current or {}), **metrics}
        # RETURNING saves the second round trip in the common case (the worker still holds the job).
        status = conn.execute(
            _PROGRESS_UPDATE, {**values, "where_job_id": job_id, "where_worker_id": worker_id}
        ).scalar_one_or_none()
        if status is None:
            status = conn.execute(_STATUS_BY_ID, {"job_id": job_id}).scalar_one_or_none()
        if status is None:
            raise JobNotFound(job_id)
        return JobStatus(status)

    def append_logs(self, job_id: UUID, lines: Iterable[LogInput]) -> None:
        """Append ``(level, step, message)`` log lines to a job."""
        lines = list(lines)
        if lines:
            with write_transaction(self.engine) as conn:
                self._insert_logs(conn, job_id, utcnow(), lines)

    # -- reading -------------------------------------------------------------------------------------------
    def get(self, job_id: UUID, *, tenant_id: str | None = None) -> JobRecord:
        with read_transaction(self.engine) as conn:
            row = conn.execute(*self._select_job(_GET_JOB, job_id, tenant_id)).mappings().one_or_none()
        if row is None:
            raise JobNotFound(job_id)
        return JobRecord.from_row(row)

    def list(
        self,
        *,
        tenant_id: str | None = None,
        status: JobStatus | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[JobRecord], int]:
        """A page of jobs, newest first, and the total count matching the filters."""
        conditions = []
        if tenant_id is not None:
            conditions.append(jobs.tenant_id == tenant_id)
        if status is not None:
            conditions.append(jobs.status == status.value)
        with read_transaction(self.engine) as conn:
            total = conn.execute(select(func.count()).select_from(training_jobs).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(training_jobs)
                .where(*conditions)
                .order_by(jobs.created_at.desc(), jobs.job_id)
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).mappings()
            return [JobRecord.from_row(row) for row in rows], total

    def logs(
        self, job_id: UUID, *, tenant_id: str | None = None, tail: int | None = None, after_id: int = 0
    ) -> tuple[list[LogLine], int]:
        """The job's log lines in order (the last ``tail`` of them, if given) and the total number of lines."""
        logs_c = training_job_logs.c
        with read_transaction(self.engine) as conn:
            if conn.execute(*self._select_job(_GET_JOB, job_id, tenant_id)).first() is None:
                raise JobNotFound(job_id)
            where = [logs_c.job_id == job_id, logs_c.log_id > after_id]
            total = conn.execute(select(func.count()).where(*where)).scalar_one()
            query = select(training_job_logs).where(*where)
            if tail is not None:
                query = query.order_by(logs_c.log_id.desc()).limit(tail)
            rows = conn.execute(query.order_by(logs_c.log_id)).mappings().all()
        lines = sorted(
            (LogLine(r["log_id"], r["timestamp"], r["level"], r["step"], r["message"]) for r in rows),
            key=lambda line: line.log_id,
        )
        return lines, total

    def events(self, job_id: UUID) -> list[JobEvent]:
        ev = training_job_events.c
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(training_job_events).where(ev.job_id == job_id).order_by(ev.event_id)).mappings()
            return [
                JobEvent(
                    r["event_id"],
                    JobStatus(r["from_status"]) if r["from_status"] else None,
                    JobStatus(r["to_status"]),
                    r["reason"],
                    r["worker_id"],
                    r["created_at"],
                )
                for r in rows
            ]

    def typical_duration(self, *, tenant_id: str, model_type: str, feature_set: str, sample: int = 20) -> float | None:
        """Median duration in seconds of the latest completed jobs like this one; None without history."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(jobs.started_at, jobs.completed_at)
                .where(
                    jobs.tenant_id == tenant_id,
                    jobs.model_type == model_type,
                    jobs.feature_set == feature_set,
                    jobs.status == JobStatus.COMPLETED.value,
                )
                .order_by(jobs.completed_at.desc())
                .limit(sample)
            ).all()
        durations = sorted((done - started).total_seconds() for started, done in rows if started and done)
        return durations[len(durations) // 2] if durations else None

    # -- internals -----------------------------------------------------------------------------------------
    @staticmethod
    def _select_job(
        statements: tuple[Select, Select], job_id: UUID, tenant_id: str | None
    ) -> tuple[Select, dict[str, Any]]:
        """One of ``statements`` (any tenant's job, a given tenant's) for the job, and its parameters: the job's row
        is found only if it is ``tenant_id``'s, when given."""
        if tenant_id is None:
            return statements[0], {"job_id": job_id}
        return statements[1], {"job_id": job_id, "tenant_id": tenant_id}

    def _lock_current(self, conn, job_id: UUID, tenant_id: str | None) -> _Locked:
        """Lock the job's row for the rest of the transaction; its status and metrics."""
        row = conn.execute(*self._select_job(_LOCK_JOB, job_id, tenant_id)).one_or_none()
        if row is None:
            raise JobNotFound(job_id)
        return _Locked(JobStatus(row.status), row.metrics)

    @staticmethod
    def _record_event(conn, job_id, source: JobStatus | None, target: JobStatus, reason, worker_id, now) -> None:
        conn.execute(
            _INSERT_EVENT,
            {
                "job_id": job_id,
                "from_status": source.value if source else None,
                "to_status": target.value,
                "reason": reason,
                "worker_id": worker_id,
                "created_at": now,
            },
        )

    @staticmethod
    def _insert_logs(conn, job_id, now: datetime, lines: Iterable[LogInput]) -> None:
        rows = []
        for line in lines:
            level, step, message, timestamp = PendingLog(*line)
            rows.append(
                {"job_id": job_id, "timestamp": timestamp or now, "level": level, "step": step, "message": message}
            )
        if rows:
            conn.execute(_INSERT_LOGS, rows)


class _Locked(NamedTuple):
    status: JobStatus
    metrics: dict[str, Any] | None


_COUNT_RUNNING = select(func.count()).where(jobs.status == JobStatus.RUNNING.value)


@functools.cache
def _claim_statement(*, per_tenant_limit: bool) -> Update:
    """The claim: one UPDATE of the row that its subquery picked and locked (SKIP LOCKED: concurrent claimers pass
    over it to the next job instead of waiting). SQLite has no row locks and needs none: its BEGIN IMMEDIATE
    already serialises writers. Parameters: ``now``, ``new_worker_id``, ``new_lease_expires_at`` and, with
    ``per_tenant_limit``, ``per_tenant`` (skip the tenants that have this many jobs running)."""
    now = bindparam("now")
    query = select(jobs.job_id).where(
        jobs.status == JobStatus.QUEUED.value, or_(jobs.not_before.is_(None), jobs.not_before <= now)
    )
    if per_tenant_limit:
        busy = (
            select(jobs.tenant_id)
            .where(jobs.status == JobStatus.RUNNING.value)
            .group_by(jobs.tenant_id)
            .having(func.count() >= bindparam("per_tenant"))
        )
        query = query.where(jobs.tenant_id.not_in(busy))
    candidate = (
        query.order_by(jobs.virtual_enqueued_at.asc(), jobs.created_at.asc())
        .limit(1)
        .with_for_update(skip_locked=True)
        .correlate(None)
        .scalar_subquery()
    )
    return (
        update(training_jobs)
        .where(jobs.job_id == candidate, jobs.status == JobStatus.QUEUED.value)
        .returning(*training_jobs.c)
        .values(
            status=JobStatus.RUNNING.value,
            worker_id=bindparam("new_worker_id"),
            lease_expires_at=bindparam("new_lease_expires_at"),
            started_at=now,
            completed_at=None,
            not_before=None,
            attempts=jobs.attempts + 1,
            progress=0.0,
            current_step=None,
            updated_at=now,
        )
    )


@functools.cache
def _transition_statement(*, held_by_worker: bool, lease_guard: bool) -> Update:
    """A transition's UPDATE … RETURNING, conditional on the job's status (``where_sources``) and, as asked, on
    the worker that holds it (``where_worker_id``) and on its lease having expired (``where_lease_before``). Its
    SET clause comes from the other parameters' names."""
    conditions = [jobs.job_id == bindparam("where_job_id"), jobs.status.in_(bindparam("where_sources", expanding=True))]
    if held_by_worker:
        conditions.append(jobs.worker_id == bindparam("where_worker_id"))
    if lease_guard:
        conditions.append(jobs.lease_expires_at < bindparam("where_lease_before"))
    return update(training_jobs).where(*conditions).returning(*training_jobs.c)
