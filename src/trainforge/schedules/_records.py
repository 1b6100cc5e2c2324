"""Plain records that the schedule store returns, and the job a schedule queues at each firing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from trainforge.jobs.records import NewJob
from trainforge.schedules._cron import CronSchedule


class ScheduleStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(frozen=True)
class ScheduleRecord:
    schedule_id: UUID
    tenant_id: str
    name: str
    cron: str
    timezone: str
    job: dict[str, Any]
    status: ScheduleStatus
    next_run_at: datetime | None
    last_fired_at: datetime | None
    last_job_id: UUID | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScheduleRecord:
        values = dict(row)
        values["status"] = ScheduleStatus(values["status"])
        return cls(**values)

    @property
    def cron_schedule(self) -> CronSchedule:
        return CronSchedule(self.cron, self.timezone)


@dataclass(frozen=True)
class Firing:
    """One fired due time of a schedule: ``skipped`` later due times were coalesced into it."""

    schedule_id: UUID
    due_at: datetime
    fired_at: datetime
    skipped: int
    job_id: UUID | None = None


def job_for(schedule: ScheduleRecord, *, scheduled_for: datetime | None = None) -> NewJob:
    """The job a schedule queues, labelled with where it came from: the job's ``schedule`` column holds the cron (as
    ``POST /jobs/start`` reads it) and its tags ``schedule_id``, ``schedule_name`` and ``scheduled_for``."""
    stored = schedule.job
    tags = {**(stored.get("tags") or {}), "schedule_id": str(schedule.schedule_id), "schedule_name": schedule.name}
    if scheduled_for is not None:
        tags["scheduled_for"] = scheduled_for.isoformat()
    return NewJob(
        tenant_id=schedule.tenant_id,
        model_type=stored["model_type"],
        model_name=stored["model_name"],
        feature_set=stored["feature_set"],
        config=stored["config"],
        priority=stored["priority"],
        schedule=schedule.cron_schedule.text,
        created_by=schedule.created_by,
        tags=tags,
    )
