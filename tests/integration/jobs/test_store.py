"""The queue and job history, run on SQLite and on PostgreSQL (the ``engine`` fixture is parametrised)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

from trainforge.errors import IllegalTransition, JobNotFound
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore


def new_job(tenant="t1", priority=0, name="load") -> NewJob:
    return NewJob(
        tenant_id=tenant,
        model_type="forecast",
        model_name=name,
        feature_set="fs",
        config={"horizon": 24},
        priority=priority,
    )


def test_enqueue_then_get_round_trips_and_writes_an_event(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    got = store.get(job.job_id)
    assert got.status is JobStatus.QUEUED
    assert got.config == {"horizon": 24}
    assert got.created_at.tzinfo is not None
    assert [(e.from_status, e.to_status) for e in store.events(job.job_id)] == [(None, JobStatus.QUEUED)]


def test_claim_takes_highest_priority_then_oldest(engine):
    store = JobStore(engine)
    low = store.enqueue(new_job(priority=-10))
    first_normal = store.enqueue(new_job(priority=0))
    store.enqueue(new_job(priority=0))
    urgent = store.enqueue(new_job(priority=20))
    order = [store.claim_next("w").job_id for _ in range(4)]
    assert order[0] == urgent.job_id
    assert order[1] == first_normal.job_id
    assert order[3] == low.job_id
    assert store.claim_next("w") is None


def test_claim_marks_running_with_worker_lease_and_attempt(engine):
    store = JobStore(engine)
    store.enqueue(new_job())
    claimed = store.claim_next("worker-a", lease_seconds=30)
    assert claimed.status is JobStatus.RUNNING
    assert claimed.worker_id == "worker-a"
    assert claimed.attempts == 1
    assert claimed.lease_expires_at > claimed.started_at


def test_concurrent_claims_hand_each_job_to_exactly_one_worker(engine):
    store = JobStore(engine)
    for _ in range(30):
        store.enqueue(new_job())
    claimed: list[uuid.UUID] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := store.claim_next(name)) is not None:
            with lock:
                claimed.append(job.job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 30
    assert max(Counter(claimed).values()) == 1


def test_illegal_transition_changes_nothing(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.claim_next("w")
    store.transition(job.job_id, JobStatus.COMPLETED, reason="done", model_id="t1:load:1.0.0")
    with pytest.raises(IllegalTransition) as err:
        store.transition(job.job_id, JobStatus.CANCELLED, reason="user")
    assert err.value.current == "completed"
    after = store.get(job.job_id)
    assert after.status is JobStatus.COMPLETED
    assert after.model_id == "t1:load:1.0.0"
    assert [e.to_status for e in store.events(job.job_id)] == [
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.COMPLETED,
    ]


def test_a_transition_refuses_a_field_that_is_not_a_column(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    with pytest.raises(TypeError, match="model_idd"):
        store.transition(job.job_id, JobStatus.CANCELLED, reason="user", model_idd="t1:load:1.0.0")
    assert store.get(job.job_id).status is JobStatus.QUEUED  # nothing half-written either


def test_a_transition_sets_the_fields_it_is_given(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.claim_next("w")
    done = store.transition(
        job.job_id, JobStatus.FAILED, reason="boom", worker_id="w", error_message="boom", merge_metrics={"mae": 1.5}
    )
    assert (done.status, done.error_message, done.metrics, done.lease_expires_at) == (
        JobStatus.FAILED,
        "boom",
        {"mae": 1.5},
        None,
    )
    assert store.get(job.job_id).completed_at is not None


def test_a_worker_that_lost_the_job_cannot_finish_it(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.claim_next("old-worker")
    store.transition(job.job_id, JobStatus.QUEUED, reason="lease expired")
    store.claim_next("new-worker")
    with pytest.raises(IllegalTransition):
        store.transition(job.job_id, JobStatus.COMPLETED, reason="late", worker_id="old-worker")
    assert store.get(job.job_id).worker_id == "new-worker"


def test_cancel_running_job_then_worker_completion_is_refused(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.claim_next("w")
    store.transition(job.job_id, JobStatus.CANCELLED, reason="cancelled by user")
    with pytest.raises(IllegalTransition):
        store.transition(job.job_id, JobStatus.COMPLETED, reason="finished", worker_id="w")
    assert store.get(job.job_id).status is JobStatus.CANCELLED


def test_tenant_scoping_hides_other_tenants_jobs(engine):
    store = JobStore(engine)
    mine = store.enqueue(new_job(tenant="a"))
    store.enqueue(new_job(tenant="b"))
    with pytest.raises(JobNotFound):
        store.get(mine.job_id, tenant_id="b")
    with pytest.raises(JobNotFound):
        store.transition(mine.job_id, JobStatus.CANCELLED, reason="x", tenant_id="b")
    records, total = store.list(tenant_id="a")
    assert total == 1
    assert [r.job_id for r in records] == [mine.job_id]


def test_list_filters_pages_and_counts(engine):
    store = JobStore(engine)
    ids = [store.enqueue(new_job()).job_id for _ in range(5)]
    store.claim_next("w")
    page1, total = store.list(status=JobStatus.QUEUED, page=1, page_size=2)
    page2, _ = store.list(status=JobStatus.QUEUED, page=2, page_size=2)
    assert total == 4
    assert len(page1) == 2 and len(page2) == 2
    assert not {r.job_id for r in page1} & {r.job_id for r in page2}
    assert {r.job_id for r in page1 + page2} <= set(ids)


def test_progress_metrics_merge_and_report_cancellation(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.claim_next("w")
    assert store.report_progress(job.job_id, worker_id="w", progress=0.5, step="fit", metrics={"a": 1.0}) == (
        JobStatus.RUNNING
    )
    store.report_progress(job.job_id, worker_id="w", metrics={"b": 2.0})
    got = store.get(job.job_id)
    assert (got.progress, got.current_step, got.metrics) == (0.5, "fit", {"a": 1.0, "b": 2.0})
    store.transition(job.job_id, JobStatus.CANCELLED, reason="user")
    assert store.report_progress(job.job_id, worker_id="w", progress=0.9) is JobStatus.CANCELLED
    assert store.get(job.job_id).progress == 0.5


def test_logs_tail_and_total(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.append_logs(job.job_id, [("INFO", "load", f"line {i}") for i in range(10)])
    lines, total = store.logs(job.job_id, tail=3)
    assert total == 11  # the "queued" line plus ten
    assert [line.message for line in lines] == ["line 7", "line 8", "line 9"]
    with pytest.raises(JobNotFound):
        store.logs(job.job_id, tenant_id="someone-else")


def test_typical_duration_is_the_median_of_completed_jobs(engine):
    store = JobStore(engine)
    assert store.typical_duration(tenant_id="t1", model_type="forecast", feature_set="fs") is None
    job = store.enqueue(new_job())
    store.claim_next("w")
    store.transition(job.job_id, JobStatus.COMPLETED, reason="done")
    duration = store.typical_duration(tenant_id="t1", model_type="forecast", feature_set="fs")
    assert duration is not None and duration >= 0


def test_completion_merges_its_metrics_into_those_recorded_while_running(engine):
    store = JobStore(engine)
    job = store.enqueue(new_job())
    store.claim_next("w")
    store.report_progress(job.job_id, worker_id="w", metrics={"cpu_seconds": 3.0, "mae": 9.0})
    done = store.transition(
        job.job_id, JobStatus.COMPLETED, reason="done", worker_id="w", merge_metrics={"mae": 1.5, "rmse": 2.0}
    )
    assert done.metrics == {"cpu_seconds": 3.0, "mae": 1.5, "rmse": 2.0}
