"""Priorities with aging, retry backoff, concurrency limits and the lease reaper, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from trainforge.db.types import utcnow
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore


def job(tenant="t1", priority=0, max_attempts=3) -> NewJob:
    return NewJob(
        tenant_id=tenant,
        model_type="forecast",
        model_name="m",
        feature_set="fs",
        config={},
        priority=priority,
        max_attempts=max_attempts,
    )


def test_an_urgent_job_goes_first_but_cannot_starve_an_old_low_one(engine):
    store = JobStore(engine, aging_seconds=1.0)  # one priority point = one second of waiting
    t0 = utcnow()
    low = store.enqueue(job(priority=-10), now=t0)
    # An urgent job arriving soon after overtakes it: 30 points of priority beat 5 s of waiting.
    urgent_soon = store.enqueue(job(priority=20), now=t0 + timedelta(seconds=5))
    # One arriving after 31 s of the low job's wait does not: the low job's wait is bounded.
    urgent_late = store.enqueue(job(priority=20), now=t0 + timedelta(seconds=31))
    order = [store.claim_next("w", now=t0 + timedelta(seconds=40)).job_id for _ in range(3)]
    assert order == [urgent_soon.job_id, low.job_id, urgent_late.job_id]


def test_a_job_in_backoff_is_not_claimed_before_its_time(engine):
    store = JobStore(engine)
    queued = store.enqueue(job())
    claimed = store.claim_next("w")
    later = utcnow() + timedelta(seconds=60)
    store.transition(claimed.job_id, JobStatus.QUEUED, reason="attempt 1 failed", worker_id="w", not_before=later)
    assert store.claim_next("w") is None
    again = store.claim_next("w", now=later + timedelta(seconds=1))
    assert again.job_id == queued.job_id
    assert again.attempts == 2
    assert again.not_before is None


def test_global_and_per_tenant_limits(engine):
    store = JobStore(engine)
    for tenant in ("a", "a", "a", "b"):
        store.enqueue(job(tenant=tenant))
    first = store.claim_next("w", max_running_per_tenant=1)
    second = store.claim_next("w", max_running_per_tenant=1)
    assert {first.tenant_id, second.tenant_id} == {"a", "b"}
    assert store.claim_next("w", max_running_per_tenant=1) is None  # a's other jobs wait
    assert store.claim_next("w", max_running=2) is None
    assert store.claim_next("w", max_running=3).tenant_id == "a"


def test_twenty_jobs_under_a_limit_of_five_never_exceed_it_and_all_complete(engine):
    store = JobStore(engine)
    for n in range(20):
        store.enqueue(job(tenant=f"t{n % 3}"))
    peak = 0
    done = []
    lock = threading.Lock()
    pause = threading.Event()  # never set: wait() is a short pause that lets other workers claim meanwhile

    def worker(name: str) -> None:
        nonlocal peak
        while True:
            claimed = store.claim_next(name, max_running=5)
            if claimed is None:
                if store.list(status=JobStatus.QUEUED)[1] == 0:
                    return
                pause.wait(0.01)
                continue
            running_now = store.list(status=JobStatus.RUNNING)[1]  # the database's own count
            with lock:
                peak = max(peak, running_now)
            pause.wait(0.02)  # hold the job while the others try to claim
            store.transition(claimed.job_id, JobStatus.COMPLETED, reason="done", worker_id=name)
            with lock:
                done.append(claimed.job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(done) == 20 and len(set(done)) == 20
    assert 1 < peak <= 5  # jobs did run side by side, and never more than five


def test_the_database_never_holds_more_running_jobs_than_the_limit(engine):
    store = JobStore(engine)
    for _ in range(12):
        store.enqueue(job())
    barrier = threading.Barrier(12)
    claimed = []

    def claimer(name: str) -> None:
        barrier.wait()
        result = store.claim_next(name, max_running=5)
        if result is not None:
            claimed.append(result.job_id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(claimed) == 5
    assert store.list(status=JobStatus.RUNNING)[1] == 5


def test_the_reaper_requeues_a_dead_workers_job_and_fails_it_after_the_last_attempt(engine):
    store = JobStore(engine)
    queued = store.enqueue(job(max_attempts=2))
    store.claim_next("dead-worker", lease_seconds=30)
    assert store.reap_expired_leases(now=utcnow() + timedelta(seconds=10)) == []  # lease still valid
    reaped = store.reap_expired_leases(now=utcnow() + timedelta(seconds=31))
    assert [(r.job_id, r.status) for r in reaped] == [(queued.job_id, JobStatus.QUEUED)]
    assert "dead-worker" in store.events(queued.job_id)[-1].reason

    store.claim_next("second-worker", lease_seconds=30)  # attempt 2 of 2
    reaped = store.reap_expired_leases(now=utcnow() + timedelta(seconds=31))
    assert reaped[0].status is JobStatus.FAILED
    assert "last of 2 attempts" in reaped[0].error_message


def test_the_reaper_leaves_a_renewed_lease_alone(engine):
    store = JobStore(engine)
    queued = store.enqueue(job())
    store.claim_next("w", lease_seconds=1)
    store.report_progress(queued.job_id, worker_id="w", lease_seconds=600)
    assert store.reap_expired_leases(now=utcnow() + timedelta(seconds=5)) == []
    assert store.get(queued.job_id).status is JobStatus.RUNNING


@pytest.mark.parametrize("reapers", [4])
def test_concurrent_reapers_requeue_a_job_once(engine, reapers):
    store = JobStore(engine)
    queued = store.enqueue(job())
    store.claim_next("dead", lease_seconds=1)
    later = utcnow() + timedelta(seconds=5)
    results = []
    threads = [
        threading.Thread(target=lambda: results.extend(store.reap_expired_leases(now=later))) for _ in range(reapers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 1
    requeues = [e for e in store.events(queued.job_id) if e.to_status is JobStatus.QUEUED and e.from_status]
    assert len(requeues) == 1
