"""Notifications: per-tenant webhooks told (Slack-compatible JSON) when a job completes, fails or is cancelled.

The path of a notification: a job's terminal ``training_job_events`` row → one ``notification_deliveries`` row per
subscribed webhook (:mod:`~trainforge.notifications.outbox`) → a POST with retries and backoff
(:mod:`~trainforge.notifications.dispatcher`), each attempt kept in ``notification_attempts``. See
docs/notifications.md.
"""

from trainforge.notifications.dispatcher import DispatchReport, NotificationDispatcher, start_dispatcher
from trainforge.notifications.message import build_payload
from trainforge.notifications.outbox import NotificationOutbox
from trainforge.notifications.records import NOTIFY_EVENTS, Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from trainforge.notifications.request import WebhookRequest, check_webhook_url
from trainforge.notifications.retry import RetryPolicy
from trainforge.notifications.sender import SendOutcome, WebhookSender
from trainforge.notifications.store import WebhookStore

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
    "start_dispatcher",
]
