"""The notification body: Slack-compatible text and blocks, and the machine-readable ``trainforge`` object."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from trainforge.notifications import build_payload

ENDED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def job(**changes) -> dict:
    row = {
        "job_id": uuid.UUID(int=1),
        "tenant_id": "acme",
        "model_type": "forecast",
        "model_name": "load_forecast",
        "feature_set": "site_load",
        "model_id": "acme:load_forecast:1.2.0",
        "metrics": {"mae": 12.3456, "rmse": 20.0, "fit_seconds": 3.5},
        "error_message": None,
        "attempts": 1,
        "started_at": ENDED - timedelta(minutes=2, seconds=5),
    }
    return row | changes


def payload(event: str, reason: str = "done", **changes) -> dict:
    return build_payload(
        delivery_id=uuid.UUID(int=9), event=event, reason=reason, occurred_at=ENDED, job=job(**changes)
    )


def test_a_completion_reads_well_in_slack_and_carries_the_facts():
    body = payload("completed")
    assert body["text"] == (
        ":white_check_mark: Training job *load_forecast* (site_load) completed: model `acme:load_forecast:1.2.0` "
        "(mae 12.35, rmse 20)"
    )
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}
    assert "2m 5s" in body["blocks"][1]["elements"][0]["text"]
    assert body["trainforge"] == {
        "version": 1,
        "delivery_id": str(uuid.UUID(int=9)),
        "event": "completed",
        "status": "completed",
        "occurred_at": ENDED.isoformat(),
        "job_id": str(uuid.UUID(int=1)),
        "tenant_id": "acme",
        "model_type": "forecast",
        "model_name": "load_forecast",
        "feature_set": "site_load",
        "model_id": "acme:load_forecast:1.2.0",
        "metrics": {"mae": 12.3456, "rmse": 20.0, "fit_seconds": 3.5},
        "error_message": None,
        "reason": "done",
        "attempts": 1,
        "duration_seconds": 125.0,
    }


def test_a_failure_shows_the_error_escaped_and_truncated_and_no_model():
    body = payload("failed", reason="x", error_message="<script> & " + "y" * 5000)
    assert body["trainforge"]["model_id"] is None
    assert len(body["trainforge"]["error_message"]) == 1000
    assert "&lt;script&gt; &amp; " in body["text"] and "<script>" not in body["text"]


def test_a_failure_without_a_stored_message_uses_the_events_reason():
    assert payload("failed", reason="fit: boom", error_message=None)["trainforge"]["error_message"] == "fit: boom"


def test_a_cancellation_of_a_queued_job_has_no_duration():
    body = payload("cancelled", reason="cancelled by key abc", started_at=None, model_id=None, metrics=None)
    assert body["trainforge"]["duration_seconds"] is None and body["trainforge"]["metrics"] == {}
    assert body["text"].endswith("cancelled: cancelled by key abc")


def test_the_body_is_strict_json_even_with_non_finite_metrics():
    body = payload("completed", metrics={"mae": float("nan"), "mape": float("inf")})
    assert body["trainforge"]["metrics"] == {"mae": None, "mape": None}
    json.dumps(body, allow_nan=False)
