"""Plain records that the job store returns (no SQLAlchemy objects leak out of the store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from trainforge.jobs.status import JobStatus


@dataclass(frozen=True)
class NewJob:
    """What it takes to enqueue a job. ``kind`` names what it does (``train``, ``tune``; see trainforge.kinds),
    ``config`` is its checked request, as the kind reads it back."""

    tenant_id: str
    model_type: str
    model_name: str
    feature_set: str
    config: dict[str, Any]
    kind: str = "train"
    priority: int = 0
    max_attempts: int = 3
    schedule: str | None = None
    created_by: str | None = None
    tags: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobRecord:
    job_id: UUID
    tenant_id: str
    model_type: str
    model_name: str
    feature_set: str
    kind: str
    status: JobStatus
    priority: int
    config: dict[str, Any]
    schedule: str | None
    progress: float
    current_step: str | None
    metrics: dict[str, Any] | None
    error_message: str | None
    model_id: str | None
    attempts: int
    max_attempts: int
    not_before: datetime | None
    virtual_enqueued_at: datetime
    worker_id: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    created_by: str | None
    tags: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobRecord:
        values = dict(row)
        values["status"] = JobStatus(values["status"])
        return cls(**values)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


class PendingLog(NamedTuple):
    """A log line to write: ``(level, step, message)``, and when it happened (default: when it is written)."""

    level: str
    step: str | None
    message: str
    timestamp: datetime | None = None


@dataclass(frozen=True)
class LogLine:
    log_id: int
    timestamp: datetime
    level: str
    step: str | None
    message: str


@dataclass(frozen=True)
class JobEvent:
    event_id: int
    from_status: JobStatus | None
    to_status: JobStatus
    reason: str
    worker_id: str | None
    created_at: datetime
