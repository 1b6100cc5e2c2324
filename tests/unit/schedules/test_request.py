"""The request that creates a schedule: each field is checked, and a refusal names the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trainforge.schedules._cron import CronSchedule
from trainforge.schedules._request import ScheduleRequest


def job_body(**changes):
    return {
        "tenant_id": "t1",
        "model_type": "forecast",
        "model_name": "m",
        "feature_set": "demo_load",
        **changes,
    }


def test_schedule_request_validates_each_field():
    request = ScheduleRequest.model_validate(
        {"tenant_id": "t1", "name": "nightly", "cron": " @Daily ", "timezone": "Europe/Berlin", "job": job_body()}
    )
    assert request.cron_schedule == CronSchedule("@daily", "Europe/Berlin")
    assert (
        ScheduleRequest.model_validate(
            {"tenant_id": "t1", "name": "n", "cron": "0 3 * * *", "job": job_body()}
        ).timezone
        == "UTC"
    )
    for change, field in [
        ({"cron": "0 0 30 2 *"}, "cron"),
        ({"cron": "@sometimes"}, "cron"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"name": "../x"}, "name"),
        ({"tenant_id": "a.b"}, "tenant_id"),
        ({"job": job_body(horizon=3)}, "job"),
        ({"surprise": 1}, "surprise"),
    ]:
        body = {"tenant_id": "t1", "name": "n", "cron": "0 3 * * *", "job": job_body()} | change
        with pytest.raises(ValidationError) as refused:
            ScheduleRequest.model_validate(body)
        assert refused.value.errors()[0]["loc"][0] == field
