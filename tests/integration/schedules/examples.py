"""The schedule and job that the store and scheduler tests start from, created at a fixed time (no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trainforge.jobs.records import NewJob
from trainforge.schedules import CronSchedule, ScheduleRecord, ScheduleStore

T0 = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)  # an hourly schedule created now is first due at 01:00
HOUR = timedelta(hours=1)


def new_job(tenant: str = "t1") -> NewJob:
    return NewJob(
        tenant_id=tenant,
        model_type="forecast",
        model_name="load_forecast",
        feature_set="demo_load",
        config={"target_variable": "load_kw", "horizon": 24, "hyperparams": {}},
        priority=10,
        tags={"team": "grid"},
    )


def create(store: ScheduleStore, name: str = "hourly", *, tenant: str = "t1", cron: str = "@hourly") -> ScheduleRecord:
    return store.create(tenant_id=tenant, name=name, cron=CronSchedule.parse(cron), job=new_job(tenant), now=T0)
