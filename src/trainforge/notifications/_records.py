"""Plain records of webhooks and their deliveries (no SQLAlchemy objects leak out of the stores)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from trainforge.jobs.status import JobStatus

# The job statuses a webhook can be told about: the terminal ones.
NOTIFY_EVENTS: tuple[str, ...] = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


class DeliveryStatus(StrEnum):
    """Where one notification stands: ``pending`` (due at ``next_attempt_at``), ``sending`` (claimed by a
    dispatcher), ``delivered`` (a 2xx answer) or ``failed`` (given up: out of attempts, or refused for good)."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Webhook:
    webhook_id: UUID
    tenant_id: str
    name: str | None
    url: str
    events: list[str]
    created_at: datetime
    created_by: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Webhook:
        return cls(**dict(row))


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a notification: its HTTP status (None when no answer came) or the error, and how long it took."""

    attempt: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    """One notification of one job event to one webhook, with its attempts in order."""

    delivery_id: UUID
    webhook_id: UUID
    tenant_id: str
    job_id: UUID
    event_id: int
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]
    attempt_log: list[DeliveryAttempt]
