"""Notifications: per-tenant webhooks told (Slack-compatible JSON) when a job completes, fails or is cancelled.

The path of a notification: a job's terminal ``training_job_events`` row → one ``notification_deliveries`` row per
subscribed webhook (:mod:`~trainforge.notifications._outbox`) → a POST with retries and backoff
(:mod:`~trainforge.notifications._dispatcher`), each attempt kept in ``notification_attempts``. See
docs/notifications.md.
"""

from trainforge.notifications._destinations import refused_destination
from trainforge.notifications._dispatcher import DispatchReport, NotificationDispatcher, start_dispatcher
from trainforge.notifications._message import build_payload
from trainforge.notifications._outbox import NotificationOutbox
from trainforge.notifications._records import NOTIFY_EVENTS, Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from trainforge.notifications._request import WebhookRequest, check_webhook_url
from trainforge.notifications._retry import RetryPolicy
from trainforge.notifications._sender import SendOutcome, WebhookSender
from trainforge.notifications._store import WebhookStore

__all__ = [
    "NOTIFY_EVENTS",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "DispatchReport",
    "NotificationDispatcher",
    "NotificationOutbox",
    "RetryPolicy",
    "SendOutcome",
    "Webhook",
    "WebhookRequest",
    "WebhookSender",
    "WebhookStore",
    "build_payload",
    "check_webhook_url",
    "refused_destination",
    "start_dispatcher",
]
