"""The schedule store on SQLite and PostgreSQL: names unique per tenant, tenant scoping, pause and resume, delete,
and the claim of a due time (recorded once, with its job, in one transaction). The clock is injected: no sleeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.integration.schedules.examples import HOUR, T0, create
from trainforge.db.tables import schedules as schedules_table
from trainforge.errors import InvalidInput, NotFound
from trainforge.schedules import Scheduler, ScheduleStatus


def test_create_computes_the_first_due_time(stores):
    schedules, _jobs = stores
    schedule = create(schedules)
    assert schedule.status is ScheduleStatus.ACTIVE
    assert schedule.next_run_at == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert schedule.job["priority"] == 10 and schedule.job["tags"] == {"team": "grid"}
    assert schedules.get(schedule.schedule_id) == schedule


def test_names_are_unique_per_tenant(stores):
    schedules, _jobs = stores
    create(schedules, "nightly")
    with pytest.raises(InvalidInput) as taken:
        create(schedules, "nightly")
    assert taken.value.field == "name"
    create(schedules, "nightly", tenant="t2")  # another tenant may use the name
    assert schedules.list()[1] == 2


def test_a_paused_schedule_does_not_fire_and_resume_starts_from_now(stores):
    schedules, jobs = stores
    schedule = create(schedules)
    paused = schedules.pause(schedule.schedule_id, tenant_id="t1")
    assert paused.status is ScheduleStatus.PAUSED and paused.next_run_at is None
    assert schedules.pause(schedule.schedule_id) == paused  # pausing again changes nothing
    scheduler = Scheduler(schedules, jobs)
    assert scheduler.fire_due(T0 + 10 * HOUR) == []
    resumed = schedules.resume(schedule.schedule_id, tenant_id="t1", now=T0 + 10 * HOUR)
    assert resumed.status is ScheduleStatus.ACTIVE
    assert resumed.next_run_at == datetime(2026, 1, 1, 11, tzinfo=UTC)  # the ten hours missed are not caught up
    assert schedules.resume(schedule.schedule_id, now=T0 + 20 * HOUR) == resumed  # resuming again changes nothing
    [firing] = scheduler.fire_due(datetime(2026, 1, 1, 11, 0, 1, tzinfo=UTC))
    assert firing.skipped == 0
    assert jobs.list()[1] == 1


def test_delete_removes_the_schedule_and_its_firings_but_keeps_its_jobs(stores):
    schedules, jobs = stores
    schedule = create(schedules)
    [firing] = Scheduler(schedules, jobs).fire_due(T0 + HOUR)
    schedules.delete(schedule.schedule_id, tenant_id="t1")
    with pytest.raises(NotFound):
        schedules.get(schedule.schedule_id)
    assert schedules.firings(schedule.schedule_id) == []
    assert jobs.get(firing.job_id).tags["schedule_id"] == str(schedule.schedule_id)
    assert Scheduler(schedules, jobs).fire_due(T0 + 5 * HOUR) == []
    with pytest.raises(NotFound):
        schedules.delete(schedule.schedule_id)


def test_another_tenants_schedule_is_not_found(stores):
    schedules, _jobs = stores
    schedule = create(schedules)
    for operation in (schedules.get, schedules.pause, schedules.resume, schedules.delete):
        with pytest.raises(NotFound) as missing:
            operation(schedule.schedule_id, tenant_id="t2")
        assert missing.value.field == "schedule_id"
    assert schedules.get(schedule.schedule_id) == schedule  # unchanged
    assert schedules.list(tenant_id="t2") == ([], 0)
    assert [s.schedule_id for s in schedules.list(tenant_id="t1")[0]] == [schedule.schedule_id]


def test_a_job_that_cannot_be_queued_releases_the_claim_and_fires_on_the_next_pass(stores, monkeypatch, caplog):
    """The firing and its job commit in one transaction: a failure (or a crash) between them writes neither."""
    schedules, jobs = stores
    schedule = create(schedules)
    scheduler = Scheduler(schedules, jobs)
    real_enqueue = jobs.enqueue_in

    def broken_enqueue(conn, *args, **kwargs):
        real_enqueue(conn, *args, **kwargs)  # the job row is written in the transaction ...
        raise RuntimeError("database went away")  # ... and must vanish with it

    monkeypatch.setattr(jobs, "enqueue_in", broken_enqueue)
    with caplog.at_level(logging.ERROR, logger="trainforge.schedules._scheduler"):
        assert scheduler.fire_due(T0 + HOUR) == []
    assert "firing failed" in caplog.text
    assert schedules.firings(schedule.schedule_id) == []
    assert schedules.get(schedule.schedule_id).next_run_at == T0 + timedelta(minutes=30)  # due again
    assert jobs.list()[1] == 0  # the half-made job rolled back with the firing

    monkeypatch.setattr(jobs, "enqueue_in", real_enqueue)
    [firing] = scheduler.fire_due(T0 + HOUR)
    assert firing.due_at == T0 + timedelta(minutes=30)
    assert jobs.list()[1] == 1


def test_a_due_time_that_was_fired_never_fires_again(stores):
    """The firing's primary key holds even if next_run_at is moved back (a clock that went back, a manual edit)."""
    schedules, jobs = stores
    schedule = create(schedules)
    scheduler = Scheduler(schedules, jobs)
    [firing] = scheduler.fire_due(T0 + HOUR)
    with schedules.engine.begin() as conn:
        conn.execute(
            update(schedules_table)
            .where(schedules_table.c.schedule_id == schedule.schedule_id)
            .values(next_run_at=firing.due_at)
        )
    assert scheduler.fire_due(T0 + HOUR) == []
    assert jobs.list()[1] == 1
    assert schedules.get(schedule.schedule_id).next_run_at == T0 + timedelta(minutes=90)  # moved on
