"""Webhooks: tell a tenant's systems when its jobs end (``/ai/training/webhooks``). Sending is the dispatcher's
job (:mod:`trainforge.notifications`); these routes register webhooks and show their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from trainforge.api.deps import PrincipalDep, SettingsDep, WebhookStoreDep
from trainforge.api.paging import Page, PageQueryDep, page_query
from trainforge.api.responses import COMMON, FORBIDDEN, not_found
from trainforge.errors import InvalidInput
from trainforge.names import TENANT_PATTERN
from trainforge.notifications import Delivery, DeliveryStatus, Webhook, WebhookRequest, refused_destination

WEBHOOKS_PREFIX = "/ai/training/webhooks"


router = APIRouter(
    prefix=WEBHOOKS_PREFIX,
    tags=["notifications"],
    responses=COMMON,
)
NOT_FOUND = not_found("webhook")
DeliveryPageDep = page_query(default_size=50)


class WebhookDetail(BaseModel):
    webhook_id: UUID
    tenant_id: str
    name: str | None
    url: str
    events: list[str]
    created_at: datetime
    deliveries_url: str

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookDetail:
        return cls.model_validate(
            webhook.__dict__ | {"deliveries_url": f"{WEBHOOKS_PREFIX}/{webhook.webhook_id}/deliveries"}
        )


class WebhookList(Page):
    webhooks: list[WebhookDetail]


class WebhookDeleted(BaseModel):
    webhook_id: UUID
    message: str


class AttemptEntry(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: float
    status_code: int | None = Field(description="The receiver's HTTP status; null when no answer came.")
    error: str | None


class DeliveryEntry(BaseModel):
    delivery_id: UUID
    job_id: UUID
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="The JSON body sent (the same on every attempt).")
    attempt_log: list[AttemptEntry]

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryEntry:
        values = {name: getattr(delivery, name) for name in cls.model_fields if name != "attempt_log"}
        if delivery.status is not DeliveryStatus.PENDING:
            values["next_attempt_at"] = None
        return cls.model_validate(
            values
            | {"attempt_log": [AttemptEntry.model_validate(a, from_attributes=True) for a in delivery.attempt_log]}
        )


class DeliveryList(Page):
    webhook_id: UUID
    deliveries: list[DeliveryEntry]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookDetail, responses=FORBIDDEN)
def create_webhook(
    request: WebhookRequest, store: WebhookStoreDep, principal: PrincipalDep, settings: SettingsDep
) -> WebhookDetail:
    """Register a URL to POST to (Slack-compatible JSON) when a job of ``tenant_id`` completes, fails or is
    cancelled. Failed sends are retried with backoff; a webhook never affects its jobs.

    The URL must point at a public address: a private, loopback or link-local address (or ``localhost``) is a 422
    naming ``url``, and a host name that resolves to one is refused at each send, unless the server runs with
    ``TRAINFORGE_WEBHOOK_ALLOW_PRIVATE=true``."""
    principal.act_for(request.tenant_id)
    if not settings.webhook_allow_private and (reason := refused_destination(request.url, resolve=False)):
        raise InvalidInput(reason, field="url")
    return WebhookDetail.of(store.create(request, created_by=principal.key_id))


@router.get("", response_model=WebhookList, responses=FORBIDDEN)
def list_webhooks(
    store: WebhookStoreDep,
    principal: PrincipalDep,
    paging: PageQueryDep,
    tenant_id: Annotated[str | None, Query(pattern=TENANT_PATTERN.pattern, description="Default: the key's.")] = None,
) -> WebhookList:
    """The tenant's webhooks, oldest first, one page at a time (``page``, ``page_size`` or its alias ``limit``).
    An admin key without ``tenant_id`` lists every tenant's."""
    tenant = principal.act_for(tenant_id)
    hooks, total = store.list(tenant_id=tenant, page=paging.page, page_size=paging.page_size)
    return WebhookList(webhooks=[WebhookDetail.of(hook) for hook in hooks], **paging.answer(total))


@router.delete("/{webhook_id}", response_model=WebhookDeleted, responses=NOT_FOUND)
def delete_webhook(webhook_id: UUID, store: WebhookStoreDep, principal: PrincipalDep) -> WebhookDeleted:
    """Delete a webhook and its delivery log. A notification being sent at this moment may still arrive."""
    store.delete(webhook_id, tenant_id=principal.tenant_scope)
    return WebhookDeleted(webhook_id=webhook_id, message="Webhook deleted")


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=NOT_FOUND)
def webhook_deliveries(
    webhook_id: UUID,
    store: WebhookStoreDep,
    principal: PrincipalDep,
    paging: DeliveryPageDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> DeliveryList:
    """The delivery log, newest first, one page at a time (``page``, ``page_size`` (default 50) or its alias
    ``limit``): each notification with every attempt's HTTP status or error and duration."""
    found, total = store.deliveries(
        webhook_id, tenant_id=principal.tenant_scope, status=status, page=paging.page, page_size=paging.page_size
    )
    return DeliveryList(webhook_id=webhook_id, deliveries=[DeliveryEntry.of(d) for d in found], **paging.answer(total))
