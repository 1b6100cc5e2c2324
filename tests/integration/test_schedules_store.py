"""Schedules and the scheduler on SQLite and PostgreSQL: each due time fires exactly once however many schedulers
run, missed due times coalesce into one job, paused schedules stay silent. The clock is injected: no sleeps."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from trainforge.db.engine import make_engine
from trainforge.db.tables import schedules as schedules_table
from trainforge.errors import InvalidInput, NotFound
from trainforge.jobs.cron import CronSchedule
from trainforge.jobs.records import NewJob
from trainforge.jobs.scheduler import Scheduler
from trainforge.jobs.schedules import ScheduleRecord, ScheduleStatus, ScheduleStore
from trainforge.jobs.store import JobStore

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


@pytest.fixture
def stores(engine):
    return ScheduleStore(engine), JobStore(engine)


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


def test_nothing_fires_before_the_due_time(stores):
    schedules, jobs = stores
    create(schedules)
    assert Scheduler(schedules, jobs).fire_due(T0 + timedelta(minutes=29, seconds=59)) == []
    assert jobs.list()[1] == 0


def test_a_due_schedule_queues_its_job_labelled_with_the_schedule(stores):
    schedules, jobs = stores
    schedule = create(schedules)
    [firing] = Scheduler(schedules, jobs).fire_due(datetime(2026, 1, 1, 1, 0, 3, tzinfo=UTC))
    assert firing.due_at == datetime(2026, 1, 1, 1, tzinfo=UTC) and firing.skipped == 0
    job = jobs.get(firing.job_id)
    assert (job.tenant_id, job.model_name, job.priority, job.config["horizon"]) == ("t1", "load_forecast", 10, 24)
    assert job.schedule == "@hourly"
    assert job.tags == {
        "team": "grid",
        "schedule_id": str(schedule.schedule_id),
        "schedule_name": "hourly",
        "scheduled_for": "2026-01-01T01:00:00+00:00",
    }
    after = schedules.get(schedule.schedule_id)
    assert after.next_run_at == datetime(2026, 1, 1, 2, tzinfo=UTC)
    assert (after.last_job_id, after.last_fired_at) == (job.job_id, firing.fired_at)
    assert schedules.firings(schedule.schedule_id) == [firing]


def test_two_schedulers_fire_each_due_time_once(stores):
    schedules, jobs = stores
    schedule = create(schedules)
    first, second = Scheduler(schedules, jobs), Scheduler(ScheduleStore(schedules.engine), jobs)
    for hour in range(1, 4):
        now = datetime(2026, 1, 1, hour, 0, 1, tzinfo=UTC)
        fired = first.fire_due(now) + second.fire_due(now) + first.fire_due(now)
        assert len(fired) == 1
    assert jobs.list()[1] == 3
    assert [f.due_at.hour for f in schedules.firings(schedule.schedule_id)] == [1, 2, 3]


def test_schedulers_racing_in_threads_on_the_same_now_fire_each_due_time_once(engine: Engine, stores):
    """Two schedulers (each with its own engine, as two processes would have) fire at the same instant, for several
    schedules and several due times."""
    schedules, jobs = stores
    created = [create(schedules, f"s{i}") for i in range(4)]
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]
    racers = [Scheduler(ScheduleStore(e), JobStore(e)) for e in engines]
    try:
        for hour in range(1, 6):
            now = datetime(2026, 1, 1, hour, 0, 0, tzinfo=UTC)
            barrier = threading.Barrier(len(racers))
            results: list[list] = [[] for _ in racers]
            errors: list[BaseException] = []

            def race(index: int, now=now, barrier=barrier, results=results, errors=errors) -> None:
                try:
                    barrier.wait(timeout=10)
                    results[index] = racers[index].fire_due(now)
                except BaseException as error:
                    errors.append(error)

            threads = [threading.Thread(target=race, args=(i,)) for i in range(len(racers))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not errors
            assert sorted(f.schedule_id for result in results for f in result) == sorted(s.schedule_id for s in created)
    finally:
        for e in engines:
            e.dispose()
    assert jobs.list(page_size=100)[1] == 4 * 5
    for schedule in created:
        firings = schedules.firings(schedule.schedule_id)
        assert [f.due_at.hour for f in firings] == [1, 2, 3, 4, 5]
        assert all(f.job_id is not None for f in firings)


def test_missed_due_times_coalesce_into_one_job(stores, caplog):
    schedules, jobs = stores
    schedule = create(schedules)
    later = datetime(2026, 1, 1, 6, 10, tzinfo=UTC)  # the clock jumps over 01:00 … 06:00
    with caplog.at_level(logging.WARNING, logger="trainforge.jobs.scheduler"):
        [firing] = Scheduler(schedules, jobs).fire_due(later)
    assert firing.due_at == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert firing.skipped == 5
    assert "5 missed due time(s)" in caplog.text
    assert jobs.list()[1] == 1
    assert schedules.get(schedule.schedule_id).next_run_at == datetime(2026, 1, 1, 7, tzinfo=UTC)
    assert Scheduler(schedules, jobs).fire_due(later) == []  # and nothing more at the same time


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
    with caplog.at_level(logging.ERROR, logger="trainforge.jobs.scheduler"):
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


def test_the_run_loop_uses_its_clock_and_stops(stores):
    schedules, jobs = stores
    create(schedules)
    stop = threading.Event()
    ticks = iter([T0, T0 + HOUR, T0 + HOUR])

    def clock() -> datetime:
        moment = next(ticks, None)
        if moment is None:
            stop.set()
            return T0 + HOUR
        return moment

    Scheduler(schedules, jobs, clock=clock, poll_seconds=0.001).run(stop)
    assert jobs.list()[1] == 1


def test_a_schedule_of_a_tuning_job_creates_a_study_at_every_firing(stores):
    from trainforge.hpo.store import StudyStore
    from trainforge.pipeline.config import TrainingConfig

    schedules, jobs = stores
    config = TrainingConfig(enable_hpo=True, n_trials=5).model_dump(mode="json")  # as submission stores it
    tuned = NewJob(**{**new_job().__dict__, "config": config})
    schedule = schedules.create(tenant_id="t1", name="tuned", cron=CronSchedule.parse("@hourly"), job=tuned, now=T0)
    scheduler = Scheduler(schedules, jobs)
    fired = scheduler.fire_due(T0 + HOUR) + scheduler.fire_due(T0 + 2 * HOUR)
    assert len(fired) == 2
    studies = [StudyStore(jobs.engine).get_by_job(firing.job_id) for firing in fired]
    assert all(study is not None and study.n_trials == 5 for study in studies)
    assert len({study.study_name for study in studies}) == 2
    for firing, study in zip(fired, studies, strict=True):
        assert jobs.get(firing.job_id).tags["study_id"] == str(study.study_id)
        assert jobs.get(firing.job_id).tags["schedule_id"] == str(schedule.schedule_id)
