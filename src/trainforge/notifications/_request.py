"""The body of ``POST /ai/training/webhooks``, and the rule for a webhook's URL."""

from __future__ import annotations

import unicodedata
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainforge.fields import TenantId
from trainforge.names import TENANT_RULE
from trainforge.notifications._records import NOTIFY_EVENTS

MAX_URL_LENGTH = 2048
URL_RULE = f"an http:// or https:// URL with a host, at most {MAX_URL_LENGTH} characters, no spaces"

NotifyEvent = Literal["completed", "failed", "cancelled"]


def check_webhook_url(url: str) -> str:
    """Return ``url`` if a webhook may use it, else raise :class:`ValueError` saying why.

    Only the form is checked here; where the URL points is :mod:`trainforge.notifications._destinations`' rule.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(char.isspace() or unicodedata.category(char).startswith("C") for char in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (reading it validates it: a port that is not a number in 0-65535 raises)
    except ValueError as error:
        raise ValueError(f"is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be {URL_RULE}")
    if not parts.hostname:
        raise ValueError("must name a host")
    return url


class WebhookRequest(BaseModel):
    """A webhook to tell about a tenant's jobs ending."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "tenant-123",
                    "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                    "events": ["completed", "failed"],
                    "name": "ml-alerts channel",
                }
            ]
        },
    )

    tenant_id: TenantId = Field(description=f"Tenant whose jobs it hears about: {TENANT_RULE}.")
    url: str = Field(description=f"Where to POST: {URL_RULE}.", min_length=1, max_length=MAX_URL_LENGTH)
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(NOTIFY_EVENTS),
        min_length=1,
        max_length=len(NOTIFY_EVENTS),
        description="Which endings to notify: completed, failed, cancelled (default: all three).",
    )
    name: str | None = Field(default=None, min_length=1, max_length=128, description="A label for people.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_webhook_url(value)

    @field_validator("events")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an event")
        return [event for event in NOTIFY_EVENTS if event in value]  # one canonical order

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(unicodedata.category(char).startswith("C") for char in value):
            raise ValueError("must not contain control characters")
        return value
