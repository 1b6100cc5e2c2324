"""Schedules in the metadata database: :class:`ScheduleStore` (its docstring is the contract).

A schedule is a checked job request plus a cron expression in a time zone. It is stored with the next time it is
due (``next_run_at``, UTC); :class:`trainforge.schedules._scheduler.Scheduler` fires it when that time has come.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from trainforge.db.engine import read_transaction, write_transaction
from trainforge.db.tables import schedule_firings, schedules
from trainforge.db.types import utcnow
from trainforge.errors import InvalidInput, ScheduleNotFound
from trainforge.jobs.records import NewJob
from trainforge.schedules._cron import CronSchedule
from trainforge.schedules._records import Firing, ScheduleRecord, ScheduleStatus

cols = schedules.c
firing_cols = schedule_firings.c
# The fields of a job request that a schedule stores (the checked values: hyperparameters validated, priority a number).
_JOB_FIELDS = ("tenant_id", "model_type", "model_name", "feature_set", "config", "priority", "tags")


class ScheduleStore:
    """Schedules and their firings over one SQLAlchemy engine.

    Contract:
    - ``tenant_id`` arguments, where given, scope the query itself: another tenant's schedule is "not found".
    - A paused schedule has no ``next_run_at`` and never fires; resuming computes the next due time from *now*, so
      the due times missed while paused are not caught up.
    - :meth:`claim_firing` hands each due time of a schedule to exactly one caller, however many schedulers run: in
      one transaction it re-reads the schedule under a row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
      ``BEGIN IMMEDIATE`` serialises it on SQLite), moves ``next_run_at`` past *now* with an UPDATE guarded by the
      ``next_run_at`` it read, inserts the ``schedule_firings`` row whose primary key is ``(schedule_id, due_at)``
      (a conflict means the due time was already fired), and queues the job through the caller's ``enqueue`` on
      the same connection: the firing and its job commit, or roll back, together. Missed due times up to *now*
      are coalesced into that one firing (its ``skipped`` count).
    - All methods are thread-safe (each uses its own connection) and may be called from many processes.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the tenant's operations ---------------------------------------------------------------------------
    def create(
        self,
        *,
        tenant_id: str,
        name: str,
        cron: CronSchedule,
        job: NewJob,
        created_by: str | None = None,
        now: datetime | None = None,
        name_field: str = "name",
    ) -> ScheduleRecord:
        """Store an active schedule, due next at the first cron time after ``now``.

        Raises:
            InvalidInput: the tenant already has a schedule of this name (``name_field`` names the field).
        """
        now = now or utcnow()
        schedule_id = uuid.uuid4()
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(schedules).values(
                        schedule_id=schedule_id,
                        tenant_id=tenant_id,
                        name=name,
                        cron=cron.expression,
                        timezone=cron.timezone,
                        job={field: getattr(job, field) for field in _JOB_FIELDS},
                        status=ScheduleStatus.ACTIVE.value,
                        next_run_at=cron.next_after(now),
                        created_at=now,
                        updated_at=now,
                        created_by=created_by,
                    )
                )
                return self._fetch(conn, schedule_id)
        except IntegrityError:  # the unique (tenant_id, name) index, also when two requests race
            raise InvalidInput(
                f"tenant {tenant_id!r} already has a schedule named {name!r}; delete it or choose another name",
                field=name_field,
            ) from None

    def get(self, schedule_id: UUID, *, tenant_id: str | None = None) -> ScheduleRecord:
        with read_transaction(self.engine) as conn:
            row = conn.execute(self._select(schedule_id, tenant_id)).mappings().one_or_none()
        if row is None:
            raise ScheduleNotFound(schedule_id)
        return ScheduleRecord.from_row(row)

    def list(
        self,
        *,
        tenant_id: str | None = None,
        status: ScheduleStatus | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[ScheduleRecord], int]:
        """A page of schedules, oldest first, and the total count matching the filters."""
        conditions = []
        if tenant_id is not None:
            conditions.append(cols.tenant_id == tenant_id)
        if status is not None:
            conditions.append(cols.status == status.value)
        with read_transaction(self.engine) as conn:
            total = conn.execute(select(func.count()).select_from(schedules).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(schedules)
                .where(*conditions)
                .order_by(cols.created_at, cols.schedule_id)
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).mappings()
            return [ScheduleRecord.from_row(row) for row in rows], total

    def pause(self, schedule_id: UUID, *, tenant_id: str | None = None, now: datetime | None = None) -> ScheduleRecord:
        """Stop firing. Pausing a paused schedule changes nothing."""
        values = {"status": ScheduleStatus.PAUSED.value, "next_run_at": None}
        return self._set_status(schedule_id, tenant_id, ScheduleStatus.ACTIVE, values, now)

    def resume(self, schedule_id: UUID, *, tenant_id: str | None = None, now: datetime | None = None) -> ScheduleRecord:
        """Fire again from the first due time after ``now``. Resuming an active schedule changes nothing."""
        now = now or utcnow()
        record = self.get(schedule_id, tenant_id=tenant_id)
        values = {"status": ScheduleStatus.ACTIVE.value, "next_run_at": record.cron_schedule.next_after(now)}
        return self._set_status(schedule_id, tenant_id, ScheduleStatus.PAUSED, values, now)

    def delete(self, schedule_id: UUID, *, tenant_id: str | None = None) -> None:
        """Delete a schedule and its firing history; the jobs it queued stay."""
        query = delete(schedules).where(cols.schedule_id == schedule_id)
        if tenant_id is not None:
            query = query.where(cols.tenant_id == tenant_id)
        with write_transaction(self.engine) as conn:
            if conn.execute(query).rowcount != 1:
                raise ScheduleNotFound(schedule_id)

    # -- the scheduler's operations ------------------------------------------------------------------------
    def due(self, now: datetime, *, limit: int = 100) -> list[UUID]:
        """Ids of active schedules whose next due time is at or before ``now``, most overdue first."""
        with read_transaction(self.engine) as conn:
            return list(
                conn.execute(
                    select(cols.schedule_id)
                    .where(cols.status == ScheduleStatus.ACTIVE.value, cols.next_run_at <= now)
                    .order_by(cols.next_run_at, cols.schedule_id)
                    .limit(limit)
                ).scalars()
            )

    def claim_firing(
        self,
        schedule_id: UUID,
        now: datetime,
        enqueue: Callable[[Connection, ScheduleRecord, Firing], UUID],
    ) -> tuple[ScheduleRecord, Firing] | None:
        """Fire the schedule's due time if it has come: record the firing, move ``next_run_at`` past ``now``, and
        queue its job with ``enqueue(conn, schedule, firing)`` -- all in one transaction, so a firing is never
        recorded without its job (a crash in between rolls both back and the next pass fires it) and a job never
        queued twice. If ``enqueue`` raises, nothing is written.

        Returns None when there is nothing to fire: the schedule is not due (any more), paused, deleted, locked by
        another scheduler claiming it right now, or its due time was fired already.
        """
        with write_transaction(self.engine) as conn:
            row = (
                conn.execute(
                    select(schedules)
                    .where(
                        cols.schedule_id == schedule_id,
                        cols.status == ScheduleStatus.ACTIVE.value,
                        cols.next_run_at <= now,
                    )
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .one_or_none()
            )
            if row is None:
                return None
            schedule = ScheduleRecord.from_row(row)
            due_at = schedule.next_run_at
            assert due_at is not None  # active schedules always have one
            skipped, next_run_at = schedule.cron_schedule.catch_up(due_at, now)
            advanced = conn.execute(
                update(schedules)
                .where(cols.schedule_id == schedule_id, cols.next_run_at == due_at)
                .values(next_run_at=next_run_at, updated_at=now)
            ).rowcount
            if advanced != 1:  # cannot happen under the lock above; kept as a guard, not a retry loop
                return None
            claimed = conn.execute(
                _insert_ignoring_conflict(conn.dialect.name)
                .values(schedule_id=schedule_id, due_at=due_at, fired_at=now, skipped=skipped)
                .returning(firing_cols.due_at)  # a row back means inserted (rowcount is -1 here on psycopg)
            ).first()
            if claimed is None:  # fired before (a clock that went back): move on without firing it again
                return None
            schedule = replace(schedule, next_run_at=next_run_at)
            firing = Firing(schedule_id, due_at, now, skipped)
            job_id = enqueue(conn, schedule, firing)
            conn.execute(
                update(schedule_firings)
                .where(firing_cols.schedule_id == schedule_id, firing_cols.due_at == due_at)
                .values(job_id=job_id)
            )
            conn.execute(
                update(schedules).where(cols.schedule_id == schedule_id).values(last_fired_at=now, last_job_id=job_id)
            )
            return schedule, replace(firing, job_id=job_id)

    def firings(self, schedule_id: UUID) -> list[Firing]:
        """The schedule's firings, oldest first."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(schedule_firings).where(firing_cols.schedule_id == schedule_id).order_by(firing_cols.due_at)
            ).mappings()
            return [Firing(r["schedule_id"], r["due_at"], r["fired_at"], r["skipped"], r["job_id"]) for r in rows]

    # -- internals -----------------------------------------------------------------------------------------
    @staticmethod
    def _select(schedule_id: UUID, tenant_id: str | None):
        query = select(schedules).where(cols.schedule_id == schedule_id)
        return query.where(cols.tenant_id == tenant_id) if tenant_id is not None else query

    def _set_status(
        self,
        schedule_id: UUID,
        tenant_id: str | None,
        source: ScheduleStatus,
        values: dict[str, Any],
        now: datetime | None,
    ) -> ScheduleRecord:
        with write_transaction(self.engine) as conn:
            if conn.execute(self._select(schedule_id, tenant_id).with_for_update()).first() is None:
                raise ScheduleNotFound(schedule_id)
            conn.execute(
                update(schedules)
                .where(cols.schedule_id == schedule_id, cols.status == source.value)
                .values(**values, updated_at=now or utcnow())
            )
            return self._fetch(conn, schedule_id)

    @staticmethod
    def _fetch(conn, schedule_id: UUID) -> ScheduleRecord:
        row = conn.execute(select(schedules).where(cols.schedule_id == schedule_id)).mappings().one()
        return ScheduleRecord.from_row(row)


def _insert_ignoring_conflict(dialect: str):
    # INSERT … ON CONFLICT DO NOTHING: the firing's primary key is the claim; losing it is not an error.
    if dialect == "postgresql":
        return postgresql.insert(schedule_firings).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(schedule_firings).on_conflict_do_nothing()
    raise NotImplementedError(f"schedules need SQLite or PostgreSQL, not {dialect}")
