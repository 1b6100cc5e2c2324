"""The scheduler on SQLite and PostgreSQL: each due time fires exactly once however many schedulers run, missed due
times coalesce into one job, and each firing queues the schedule's job. The clock is injected: no sleeps."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from tests.integration.schedules.examples import HOUR, T0, create, new_job
from trainforge.db.engine import make_engine
from trainforge.jobs.records import NewJob
from trainforge.jobs.store import JobStore
from trainforge.schedules import CronSchedule, Scheduler, ScheduleStore


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
    with caplog.at_level(logging.WARNING, logger="trainforge.schedules._scheduler"):
        [firing] = Scheduler(schedules, jobs).fire_due(later)
    assert firing.due_at == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert firing.skipped == 5
    assert "5 missed due time(s)" in caplog.text
    assert jobs.list()[1] == 1
    assert schedules.get(schedule.schedule_id).next_run_at == datetime(2026, 1, 1, 7, tzinfo=UTC)
    assert Scheduler(schedules, jobs).fire_due(later) == []  # and nothing more at the same time


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
