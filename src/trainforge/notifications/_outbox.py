"""The notification outbox on the metadata database: job events become delivery rows, which are claimed, sent and
settled.

Contract:
- A job's ending is its ``training_job_events`` row, written in the same transaction as the status change
  (:meth:`JobStore.transition`), wherever that ran: a worker, the API (a cancellation), a reaper. Nothing else
  has to remember to notify.
- :meth:`NotificationOutbox.fan_out` turns terminal events into one ``notification_deliveries`` row per
  subscribed webhook. The unique ``(webhook_id, event_id)`` index makes that idempotent: two dispatchers, or one
  reading an event twice, create one row. Only webhooks that existed when the job ended are told about it.
- The cursor (``notification_cursors``) only moves past events older than ``settle_seconds``. On PostgreSQL an
  event id is taken when the row is inserted but seen only at commit, so a lower id can appear after a higher
  one; events younger than the settle time are re-read on every pass (idempotently) until the cursor passes them.
- :meth:`claim` hands a due delivery to exactly one dispatcher (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
  serialised write transaction on SQLite) with a lease; a delivery whose dispatcher died is claimed again when
  the lease expires. Sending happens outside any transaction; :meth:`settle` records the attempt and the
  delivery's new status in one transaction, and only if this dispatcher still holds the claim.
- Delivery is at least once: a dispatcher frozen past its lease can lead to a second POST, with the same
  ``X-Trainforge-Delivery`` id, which receivers may use to drop it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from trainforge.db.engine import write_transaction
from trainforge.db.tables import (
    notification_attempts,
    notification_cursors,
    notification_deliveries,
    training_job_events,
    training_jobs,
    webhooks,
)
from trainforge.notifications._message import build_payload
from trainforge.notifications._records import NOTIFY_EVENTS, DeliveryStatus
from trainforge.notifications._retry import RetryPolicy
from trainforge.notifications._sender import SendOutcome

CURSOR_NAME = "job_events"
deliveries = notification_deliveries.c
events = training_job_events.c


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this dispatcher holds until ``lease_expires_at``: what to send, where, and which attempt it is."""

    delivery_id: UUID
    url: str
    event: str
    payload: dict[str, Any]
    attempt: int


class NotificationOutbox:
    """Delivery rows over one SQLAlchemy engine. Thread-safe; may be used from many processes at once."""

    def __init__(self, engine: Engine, *, settle_seconds: float = 120.0, page_size: int = 200, max_pages: int = 10):
        self.engine = engine
        self.settle_after = timedelta(seconds=settle_seconds)
        self.page_size = page_size
        self.max_pages = max_pages

    # -- events -> deliveries ------------------------------------------------------------------------------
    def fan_out(self, now: datetime) -> int:
        """Create the deliveries of the terminal job events after the cursor; returns how many were new.

        Returns 0 without waiting when another dispatcher is fanning out at this moment.
        """
        with write_transaction(self.engine) as conn:
            self._upsert_ignore(conn, notification_cursors, [{"name": CURSOR_NAME, "event_id": 0, "updated_at": now}])
            start = conn.execute(
                select(notification_cursors.c.event_id)
                .where(notification_cursors.c.name == CURSOR_NAME)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if start is None:  # locked: another dispatcher holds the cursor
                return 0
            created, position, exhausted = 0, start, False
            for _ in range(self.max_pages):
                page = self._terminal_events_after(conn, position)
                created += self._create_deliveries(conn, page, now)
                if page:
                    position = page[-1]["event_id"]
                if len(page) < self.page_size:
                    exhausted = True
                    break
            self._advance_cursor(conn, start, None if exhausted else position, now)
            return created

    def _terminal_events_after(self, conn, position: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(
                events.event_id,
                events.to_status,
                events.reason,
                events.created_at.label("event_at"),
                training_jobs,
            )
            .join(training_jobs, training_jobs.c.job_id == events.job_id)
            .where(
                events.event_id > position,
                events.to_status.in_(NOTIFY_EVENTS),
                # Only tenants with a webhook: every pass re-reads the events of the last settle_seconds, and on a
                # busy queue reading each one's job row was a tenth of the worker process's time.
                exists().where(webhooks.c.tenant_id == training_jobs.c.tenant_id),
            )
            .order_by(events.event_id)
            .limit(self.page_size)
        ).mappings()
        return [dict(row) for row in rows]

    def _create_deliveries(self, conn, page: list[dict[str, Any]], now: datetime) -> int:
        if not page:
            return 0
        tenants = {row["tenant_id"] for row in page}
        hooks = conn.execute(select(webhooks).where(webhooks.c.tenant_id.in_(tenants))).mappings().all()
        rows = []
        for event in page:
            for hook in hooks:
                if (
                    hook["tenant_id"] != event["tenant_id"]
                    or event["to_status"] not in hook["events"]
                    or hook["created_at"] > event["event_at"]
                ):
                    continue
                delivery_id = uuid.uuid4()
                payload = build_payload(
                    delivery_id=delivery_id,
                    event=event["to_status"],
                    reason=event["reason"],
                    occurred_at=event["event_at"],
                    job=event,
                )
                rows.append(
                    {
                        "delivery_id": delivery_id,
                        "webhook_id": hook["webhook_id"],
                        "event_id": event["event_id"],
                        "tenant_id": event["tenant_id"],
                        "job_id": event["job_id"],
                        "event": event["to_status"],
                        "payload": payload,
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        return self._upsert_ignore(conn, notification_deliveries, rows) if rows else 0

    def _advance_cursor(self, conn, start: int, ceiling: int | None, now: datetime) -> None:
        # The newest event that is both old enough that no lower id can still be committed, and read this pass.
        conditions = [events.event_id > start, events.created_at <= now - self.settle_after]
        if ceiling is not None:
            conditions.append(events.event_id <= ceiling)
        settled = conn.execute(select(func.max(events.event_id)).where(*conditions)).scalar_one_or_none()
        if settled is not None:
            conn.execute(
                update(notification_cursors)
                .where(notification_cursors.c.name == CURSOR_NAME, notification_cursors.c.event_id < settled)
                .values(event_id=settled, updated_at=now)
            )

    def _upsert_ignore(self, conn, table, rows: list[dict[str, Any]]) -> int:
        """INSERT the rows, skipping any that a unique key already holds; returns how many were inserted."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        # RETURNING, because a many-row INSERT's rowcount is not reported by every driver (psycopg says -1).
        statement = dialect.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
        return len(conn.execute(statement, rows).all())

    # -- claim, send, settle -------------------------------------------------------------------------------
    def claim(self, dispatcher_id: str, now: datetime, *, lease_seconds: float) -> ClaimedDelivery | None:
        """Take the longest-due delivery (or one whose claim expired) for ``dispatcher_id``; None if none is due."""
        with write_transaction(self.engine) as conn:
            due = or_(
                and_(deliveries.status == DeliveryStatus.PENDING.value, deliveries.next_attempt_at <= now),
                and_(deliveries.status == DeliveryStatus.SENDING.value, deliveries.claim_expires_at <= now),
            )
            candidate = conn.execute(
                select(deliveries.delivery_id)
                .where(due)
                .order_by(deliveries.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if candidate is None:
                return None
            claimed = conn.execute(
                update(notification_deliveries)
                .where(deliveries.delivery_id == candidate, due)
                .values(
                    status=DeliveryStatus.SENDING.value,
                    claimed_by=dispatcher_id,
                    claim_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=deliveries.attempts + 1,
                    updated_at=now,
                )
            ).rowcount
            if claimed != 1:  # cannot happen under the lock above; kept as a guard, not a retry loop
                return None
            row = conn.execute(
                select(
                    deliveries.delivery_id, deliveries.event, deliveries.payload, deliveries.attempts, webhooks.c.url
                )
                .join(webhooks, webhooks.c.webhook_id == deliveries.webhook_id)
                .where(deliveries.delivery_id == candidate)
            ).one()
        return ClaimedDelivery(row.delivery_id, row.url, row.event, row.payload, row.attempts)

    def settle(
        self,
        claimed: ClaimedDelivery,
        outcome: SendOutcome,
        *,
        dispatcher_id: str,
        started_at: datetime,
        now: datetime,
        policy: RetryPolicy,
    ) -> DeliveryStatus:
        """Log the attempt and move the delivery to delivered, failed, or pending again after a backoff.

        Returns the delivery's new status. The attempt is logged even if the claim was lost meanwhile (it did
        happen); the status then stays the new holder's to set. A delivery deleted meanwhile (with its webhook) is
        left alone.
        """
        values: dict[str, Any] = {"updated_at": now, "claimed_by": None, "claim_expires_at": None}
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
            values.update(delivered_at=now, last_error=None)
        elif outcome.permanent or policy.gives_up_after(claimed.attempt):
            status = DeliveryStatus.FAILED
            values.update(last_error=outcome.error)
        else:
            status = DeliveryStatus.PENDING
            delay = policy.delay(claimed.attempt, retry_after=outcome.retry_after)
            values.update(last_error=outcome.error, next_attempt_at=now + timedelta(seconds=delay))
        with write_transaction(self.engine) as conn:
            still_there = conn.execute(
                select(deliveries.delivery_id).where(deliveries.delivery_id == claimed.delivery_id).with_for_update()
            ).first()
            if still_there is None:  # its webhook was deleted while it was being sent: nothing left to log
                return status
            conn.execute(
                insert(notification_attempts).values(
                    delivery_id=claimed.delivery_id,
                    attempt=claimed.attempt,
                    started_at=started_at,
                    duration_ms=outcome.duration_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                )
            )
            conn.execute(
                update(notification_deliveries)
                .where(
                    deliveries.delivery_id == claimed.delivery_id,
                    deliveries.status == DeliveryStatus.SENDING.value,
                    deliveries.claimed_by == dispatcher_id,
                    deliveries.attempts == claimed.attempt,
                )
                .values(status=status.value, **values)
            )
        return status
