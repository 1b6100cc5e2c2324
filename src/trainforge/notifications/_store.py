"""Webhooks and their delivery log, as the API sees them: create, list, delete, read deliveries.

``tenant_id`` arguments, where given, scope the query itself: another tenant's webhook is "not found", exactly
like a missing one (the same rule as :class:`trainforge.jobs.store.JobStore`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from uuid import UUID

from sqlalchemy import Engine, delete, func, insert, select

from trainforge.db.engine import read_transaction, write_transaction
from trainforge.db.tables import notification_attempts, notification_deliveries, webhooks
from trainforge.db.types import utcnow
from trainforge.errors import InvalidInput, WebhookNotFound
from trainforge.notifications._records import Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from trainforge.notifications._request import WebhookRequest

MAX_WEBHOOKS_PER_TENANT = 20  # every job ending costs one delivery per webhook: keep the fan-out bounded
hooks = webhooks.c
deliveries = notification_deliveries.c
attempts = notification_attempts.c


class WebhookStore:
    """Per-tenant webhooks in the metadata database."""

    def __init__(self, engine: Engine, *, max_per_tenant: int = MAX_WEBHOOKS_PER_TENANT) -> None:
        self.engine = engine
        self.max_per_tenant = max_per_tenant

    def create(self, request: WebhookRequest, *, created_by: str | None = None) -> Webhook:
        """Register a webhook for ``request.tenant_id``.

        Raises:
            InvalidInput: the tenant already has the most webhooks allowed.
        """
        webhook = Webhook(
            webhook_id=uuid.uuid4(),
            tenant_id=request.tenant_id,
            name=request.name,
            url=request.url,
            events=list(request.events),
            created_at=utcnow(),
            created_by=created_by,
        )
        with write_transaction(self.engine) as conn:
            count = conn.execute(
                select(func.count()).select_from(webhooks).where(hooks.tenant_id == request.tenant_id)
            ).scalar_one()
            if count >= self.max_per_tenant:
                raise InvalidInput(
                    f"tenant {request.tenant_id!r} already has {count} webhooks, the most allowed; delete one first",
                    field="tenant_id",
                )
            conn.execute(insert(webhooks).values(**webhook.__dict__))
        return webhook

    def list(self, *, tenant_id: str | None = None, page: int = 1, page_size: int = 20) -> tuple[list[Webhook], int]:
        """A page of the webhooks of ``tenant_id`` (of every tenant when None), oldest first, and how many there
        are."""
        conditions = [] if tenant_id is None else [hooks.tenant_id == tenant_id]
        with read_transaction(self.engine) as conn:
            total = conn.execute(select(func.count()).select_from(webhooks).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(webhooks)
                .where(*conditions)
                .order_by(hooks.created_at, hooks.webhook_id)
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).mappings()
            return [Webhook.from_row(row) for row in rows], total

    def get(self, webhook_id: UUID, *, tenant_id: str | None = None) -> Webhook:
        with read_transaction(self.engine) as conn:
            row = conn.execute(self._select(webhook_id, tenant_id)).mappings().one_or_none()
        if row is None:
            raise WebhookNotFound(webhook_id)
        return Webhook.from_row(row)

    def delete(self, webhook_id: UUID, *, tenant_id: str | None = None) -> None:
        """Delete a webhook and its delivery log; a notification being sent at this moment may still arrive."""
        conditions = [hooks.webhook_id == webhook_id]
        if tenant_id is not None:
            conditions.append(hooks.tenant_id == tenant_id)
        with write_transaction(self.engine) as conn:
            if conn.execute(delete(webhooks).where(*conditions)).rowcount != 1:
                raise WebhookNotFound(webhook_id)

    def deliveries(
        self,
        webhook_id: UUID,
        *,
        tenant_id: str | None = None,
        status: DeliveryStatus | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[list[Delivery], int]:
        """A page of the webhook's deliveries (newest job event first), each with its attempts in order, and how
        many there are (all, or those in ``status``)."""
        conditions = [deliveries.webhook_id == webhook_id]
        if status is not None:
            conditions.append(deliveries.status == status.value)
        with read_transaction(self.engine) as conn:
            if conn.execute(self._select(webhook_id, tenant_id)).first() is None:
                raise WebhookNotFound(webhook_id)
            total = conn.execute(
                select(func.count()).select_from(notification_deliveries).where(*conditions)
            ).scalar_one()
            rows = (
                conn.execute(
                    select(notification_deliveries)
                    .where(*conditions)
                    .order_by(deliveries.event_id.desc())
                    .limit(page_size)
                    .offset((page - 1) * page_size)
                )
                .mappings()
                .all()
            )
            log: dict[UUID, list[DeliveryAttempt]] = defaultdict(list)
            if rows:
                for attempt in conn.execute(
                    select(notification_attempts)
                    .where(attempts.delivery_id.in_([row["delivery_id"] for row in rows]))
                    .order_by(attempts.attempt_id)
                ).mappings():
                    log[attempt["delivery_id"]].append(
                        DeliveryAttempt(
                            attempt["attempt"],
                            attempt["started_at"],
                            attempt["duration_ms"],
                            attempt["status_code"],
                            attempt["error"],
                        )
                    )
        found = [
            Delivery(
                delivery_id=row["delivery_id"],
                webhook_id=row["webhook_id"],
                tenant_id=row["tenant_id"],
                job_id=row["job_id"],
                event_id=row["event_id"],
                event=row["event"],
                status=DeliveryStatus(row["status"]),
                attempts=row["attempts"],
                next_attempt_at=row["next_attempt_at"],
                last_error=row["last_error"],
                created_at=row["created_at"],
                delivered_at=row["delivered_at"],
                payload=row["payload"],
                attempt_log=log[row["delivery_id"]],
            )
            for row in rows
        ]
        return found, total

    @staticmethod
    def _select(webhook_id: UUID, tenant_id: str | None):
        query = select(webhooks).where(hooks.webhook_id == webhook_id)
        return query.where(hooks.tenant_id == tenant_id) if tenant_id is not None else query
