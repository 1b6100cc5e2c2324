"""A running job's buffered events (``JobProgress``) on SQLite and PostgreSQL: written in batches, never lost, in
order, and still the way a worker learns of a cancellation."""

from __future__ import annotations

import pytest

from trainforge.errors import IllegalTransition
from trainforge.jobs.progress import JobProgress
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore


def running_job(store: JobStore):
    store.enqueue(NewJob("t1", "forecast", "load", "fs", {"horizon": 24}))
    return store.claim_next("w1")


def messages(store: JobStore, job_id) -> list[str]:
    return [line.message for line in store.logs(job_id)[0]]


def test_events_wait_in_the_buffer_until_a_flush_writes_them_together_in_order(engine):
    store = JobStore(engine)
    job = running_job(store)
    progress = JobProgress(store, job.job_id, worker_id="w1", lease_seconds=60, flush_seconds=3600)
    before = messages(store, job.job_id)
    assert progress.record("INFO", "load", "Loading", progress=None, metrics=None) is None
    assert progress.record("INFO", "load", "Loaded", progress=0.15, metrics={"rows": 10.0}) is None
    assert messages(store, job.job_id) == before  # nothing written yet: a short job's events travel together

    assert progress.flush() is JobStatus.RUNNING
    stored = store.get(job.job_id)
    assert messages(store, job.job_id) == [*before, "Loading", "Loaded"]
    assert stored.progress == 0.15
    assert stored.current_step == "load"
    assert stored.metrics == {"rows": 10.0}
    lines = store.logs(job.job_id)[0][-2:]
    assert lines[0].timestamp <= lines[1].timestamp  # each line keeps the time of its event


def test_a_due_flush_happens_on_the_next_event(engine):
    store = JobStore(engine)
    job = running_job(store)
    progress = JobProgress(store, job.job_id, worker_id="w1", lease_seconds=60, flush_seconds=0)
    assert progress.record("INFO", "fit", "Fitting", progress=None, metrics=None) is JobStatus.RUNNING
    assert messages(store, job.job_id)[-1] == "Fitting"


def test_an_empty_buffer_is_due_for_a_write_only_after_check_seconds(engine):
    # The worker waits on its Ray task until due_in(): with nothing buffered that is the cancellation check's period,
    # not the flush period, and an early call to flush_if_due writes nothing.
    store = JobStore(engine)
    job = running_job(store)
    progress = JobProgress(store, job.job_id, worker_id="w1", lease_seconds=60, flush_seconds=1800, check_seconds=3600)
    assert 1800 < progress.due_in() <= 3600
    renewed = store.get(job.job_id).lease_expires_at
    assert progress.flush_if_due() is None
    assert store.get(job.job_id).lease_expires_at == renewed  # nothing was written

    progress.log("INFO", "load", "Loading")
    assert 0 < progress.due_in() <= 1800  # an event waits at most flush_seconds

    due = JobProgress(store, job.job_id, worker_id="w1", lease_seconds=60, flush_seconds=3600, check_seconds=0)
    assert due.due_in() == 0
    assert due.flush_if_due() is JobStatus.RUNNING  # the heartbeat: renews the lease, reads the status


def test_a_flush_tells_the_worker_the_job_was_cancelled(engine):
    store = JobStore(engine)
    job = running_job(store)
    progress = JobProgress(store, job.job_id, worker_id="w1", lease_seconds=60, flush_seconds=3600)
    progress.record("INFO", "fit", "Fitting", progress=None, metrics=None)
    store.transition(job.job_id, JobStatus.CANCELLED, reason="cancelled by a user")
    assert progress.flush() is JobStatus.CANCELLED
    assert "Fitting" in messages(store, job.job_id)  # the job's history keeps what it did before it was stopped
    assert store.get(job.job_id).status is JobStatus.CANCELLED


def test_the_last_events_commit_with_the_final_transition_before_its_own_line(engine):
    store = JobStore(engine)
    job = running_job(store)
    progress = JobProgress(store, job.job_id, worker_id="w1", lease_seconds=60, flush_seconds=3600)
    progress.record("INFO", "evaluate", "Test MAE 1.0", progress=0.9, metrics={"mae": 1.0})
    logs, metrics = progress.take()
    done = store.transition(
        job.job_id, JobStatus.COMPLETED, reason="evaluated", worker_id="w1", merge_metrics=metrics, logs=logs
    )
    assert done.metrics == {"mae": 1.0}
    assert messages(store, job.job_id)[-2:] == ["Test MAE 1.0", "Job running -> completed: evaluated"]
    assert progress.take() == ([], {})


def test_lines_of_a_transition_that_is_refused_are_not_written(engine):
    store = JobStore(engine)
    job = running_job(store)
    store.transition(job.job_id, JobStatus.CANCELLED, reason="cancelled")
    before = messages(store, job.job_id)
    with pytest.raises(IllegalTransition):
        store.transition(job.job_id, JobStatus.COMPLETED, reason="x", worker_id="w1", logs=[("INFO", None, "late")])
    assert messages(store, job.job_id) == before
