"""The body of a notification: Slack-compatible JSON with a machine-readable ``trainforge`` object beside it.

Slack (and Mattermost, Rocket.Chat, Discord's ``/slack`` endpoint) read ``text`` and ``blocks`` and ignore other
keys; any other receiver reads ``trainforge``, whose shape is documented in docs/notifications.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

PAYLOAD_VERSION = 1
_ERROR_CHARS = 1000  # Slack refuses a section text over 3000 characters; an error's first lines say enough
_HEADLINE_METRICS = ("mae", "rmse", "mape")
_ICONS = {"completed": ":white_check_mark:", "failed": ":x:", "cancelled": ":no_entry_sign:"}


def build_payload(
    *, delivery_id: UUID, event: str, reason: str, occurred_at: datetime, job: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON a webhook receives when a job ended.

    Args:
        delivery_id: the delivery's id (receivers may use it to drop a repeated delivery).
        event: the status the job reached: ``completed``, ``failed`` or ``cancelled``.
        reason: why, as recorded in the job's event.
        occurred_at: when the job reached that status.
        job: the job's row (``training_jobs`` columns).
    """
    error = job.get("error_message") or (reason if event == "failed" else None)
    # A failed or cancelled job keeps what it measured before it ended. NaN and infinity are not JSON.
    metrics = {name: _finite(value) for name, value in (job.get("metrics") or {}).items()}
    started, ended = job.get("started_at"), occurred_at
    duration = (ended - started).total_seconds() if started is not None and ended >= started else None
    machine = {
        "version": PAYLOAD_VERSION,
        "delivery_id": str(delivery_id),
        "event": event,
        "status": event,
        "occurred_at": occurred_at.isoformat(),
        "job_id": str(job["job_id"]),
        "tenant_id": job["tenant_id"],
        "model_type": job["model_type"],
        "model_name": job["model_name"],
        "feature_set": job["feature_set"],
        "model_id": job.get("model_id") if event == "completed" else None,
        "metrics": metrics,
        "error_message": _truncate(error) if error else None,
        "reason": reason,
        "attempts": job.get("attempts"),
        "duration_seconds": duration,
    }
    headline = _headline(event, machine)
    context = f"job `{machine['job_id']}` · tenant `{_escape(machine['tenant_id'])}`"
    if duration is not None:
        context += f" · {_duration(duration)}"
    return {
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
        "trainforge": machine,
    }


def _headline(event: str, job: Mapping[str, Any]) -> str:
    subject = f"{_ICONS.get(event, '')} Training job *{_escape(job['model_name'])}* ({_escape(job['feature_set'])})"
    if event == "completed":
        shown = [f"{name} {job['metrics'][name]:.4g}" for name in _HEADLINE_METRICS if _is_number(job["metrics"], name)]
        model = f": model `{_escape(job['model_id'])}`" if job["model_id"] else ""
        return f"{subject} completed{model}" + (f" ({', '.join(shown)})" if shown else "")
    if event == "failed":
        return f"{subject} failed: {_escape(job['error_message'] or 'no reason recorded')}"
    return f"{subject} {event}: {_escape(_truncate(job['reason']))}"


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _is_number(metrics: Mapping[str, Any], name: str) -> bool:
    value = metrics.get(name)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _escape(text: str) -> str:
    # The three characters Slack's mrkdwn treats as control sequences (links, mentions).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str) -> str:
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"
