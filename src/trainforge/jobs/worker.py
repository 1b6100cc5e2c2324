"""The worker: claims queued jobs and runs each one's kind, step by step, until it ends.

The loop reads: claim → the kind's steps, with the hooks around them → end. One worker runs one job at a time
(``WorkerPool`` runs several as threads of one process, each with its own id and lease). What a job computes is
its kind's (:mod:`trainforge.jobs.kind`); what every job needs around its steps is a hook's
(:mod:`trainforge.jobs.hooks`). The worker itself only keeps the job's lease and record: it heartbeats in the
``workers`` table and reaps expired leases between and during jobs, and ends each attempt as completed, back in
the queue for a retry (:class:`RetryPolicy`), failed, or back in the queue because it is shutting down. When asked
to stop it drains: it claims nothing more, lets the running job finish within ``drain_seconds``, then gives it
back.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from trainforge.db.types import utcnow
from trainforge.errors import IllegalTransition, PipelineError, TrainforgeError
from trainforge.jobs.hooks import JobHook
from trainforge.jobs.kind import Completion, JobKind
from trainforge.jobs.records import JobRecord
from trainforge.jobs.retry import RetryPolicy
from trainforge.jobs.run import JobRun, WorkerDraining
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.jobs.worker_registry import WorkerRegistry
from trainforge.settings import Settings

__all__ = ["JobOutcome", "Worker", "default_worker_id"]

logger = logging.getLogger(__name__)

# How often an idle or busy worker touches its row in ``workers`` and looks for expired leases.
MAINTENANCE_SECONDS = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class JobOutcome:
    status: JobStatus
    model_id: str | None = None
    error: str | None = None


class Worker:
    """Claims jobs from a :class:`JobStore` and runs each one's kind.

    Args:
        settings: Lease, retry, drain and concurrency settings.
        store: The job store.
        kinds: Every kind this worker runs, by name (``trainforge.kinds.job_kinds`` builds the standard ones).
        hooks: Called around jobs and steps, in order (see :mod:`trainforge.jobs.hooks`).
        worker_id: This worker's id (default: host, pid and a random suffix).
        poll_seconds: How long an idle worker waits between two claims.
        retry_policy: When a failed attempt is retried.
    """

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        kinds: Mapping[str, JobKind],
        *,
        hooks: Sequence[JobHook] = (),
        worker_id: str | None = None,
        poll_seconds: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.kinds = dict(kinds)
        self.hooks = list(hooks)
        self.workers = WorkerRegistry(store.engine)
        self.worker_id = worker_id or default_worker_id()
        self.poll_seconds = poll_seconds or settings.worker_poll_seconds
        self.lease_seconds = settings.lease_seconds
        self.retry_policy = retry_policy or RetryPolicy(base_delay_seconds=settings.retry_base_delay_seconds)
        self._stop = threading.Event()
        self._stop_seen_at: float | None = None
        self._last_maintenance = 0.0

    def run(self, stop: threading.Event, *, started: bool = False) -> None:
        """Claim and run jobs until ``stop`` is set; then drain (see the module docstring) and return.

        ``started``: the hooks' ``workers_starting`` already ran for this process (a :class:`WorkerPool` runs it
        once for all its workers)."""
        if not started:
            for hook in self.hooks:
                hook.workers_starting(1)
        self._stop = stop
        self.workers.register(self.worker_id)
        logger.info("worker %s started", self.worker_id)
        try:
            while not stop.is_set():
                try:
                    self.maintain()
                    if self.run_next() is None:
                        stop.wait(self.poll_seconds)
                except Exception:  # the loop must survive a database hiccup; the job itself is already recorded
                    logger.exception("worker %s: unexpected error; continuing", self.worker_id)
                    stop.wait(self.poll_seconds)
        finally:
            self.workers.stopped(self.worker_id)
            logger.info("worker %s stopped", self.worker_id)

    def run_next(self) -> JobOutcome | None:
        """Claim one queued job and run it to the end; None when there is nothing to claim."""
        job = self.store.claim_next(
            self.worker_id,
            lease_seconds=self.lease_seconds,
            max_running=self.settings.max_running_jobs,
            max_running_per_tenant=self.settings.max_running_jobs_per_tenant,
        )
        if job is None:
            return None
        return self.execute(job)

    def execute(self, job: JobRecord) -> JobOutcome:
        """Run a claimed job's kind, with the hooks around it, and record how the attempt ended."""
        run = JobRun(
            job,
            store=self.store,
            settings=self.settings,
            worker_id=self.worker_id,
            drain_overdue=self.drain_overdue,
            maintain=self.maintain,
        )
        outcome = self._attempt(run)
        for hook in self.hooks:
            try:
                hook.after_job(run, outcome)
            except Exception:  # bookkeeping: the job's ending is already recorded
                logger.exception("job %s: hook %s failed after the job", job.job_id, type(hook).__name__)
        return outcome

    def _attempt(self, run: JobRun) -> JobOutcome:
        job = run.job
        try:
            kind = self._kind_of(job)
            for hook in self.hooks:
                hook.before_job(run)
            state = kind.start(run)
            for step in kind.steps:
                run.check_drain()
                for hook in self.hooks:
                    hook.before_step(run, step.name)
                step.run(run, state)
                for hook in self.hooks:
                    hook.after_step(run, step.name)
            completion = kind.complete(run, state)
            try:
                return self._complete(run, completion)
            except IllegalTransition as lost:
                kind.abandon(run, state, lost)
                raise
        except IllegalTransition as lost:
            # Someone else changed the job meanwhile (a cancellation, or a reaper re-queued it): theirs stands, and
            # the step that saw it has stopped its work.
            run.log("WARNING", None, f"Worker stopped the job's work: {lost.message}")
            run.progress.flush()
            return JobOutcome(JobStatus(lost.current))
        except WorkerDraining:
            return self._return_to_queue(run)
        except Exception as error:  # every failure, ours or a library's, ends the attempt as failed, never silently
            return self._fail(run, error)

    def _kind_of(self, job: JobRecord) -> JobKind:
        kind = self.kinds.get(job.kind)
        if kind is None:
            raise PipelineError(
                f"job {job.job_id} is of kind {job.kind!r}, which this worker does not run "
                f"(it runs {', '.join(sorted(self.kinds))}); upgrade the worker"
            )
        return kind

    # -- endings ---------------------------------------------------------------------------------------------
    def _complete(self, run: JobRun, completion: Completion) -> JobOutcome:
        logs, live = run.progress.take()
        try:
            self.store.transition(
                run.job.job_id,
                JobStatus.COMPLETED,
                reason=completion.reason,
                worker_id=self.worker_id,
                model_id=completion.model_id,
                # Merged, not replaced: events already stored live metrics (rows, resources) that the result lacks.
                merge_metrics={**live, **completion.metrics},
                logs=logs,
                progress=1.0,
                current_step="done",
            )
        except IllegalTransition:
            self.store.append_logs(run.job.job_id, logs)  # the job ended otherwise; its lines are still its history
            raise
        return JobOutcome(JobStatus.COMPLETED, model_id=completion.model_id)

    def _fail(self, run: JobRun, error: Exception) -> JobOutcome:
        """End the attempt as failed: back to the queue after a backoff, or failed for good (RetryPolicy)."""
        job = run.job
        message = error.message if isinstance(error, TrainforgeError) else f"{type(error).__name__}: {error}"
        run.log("ERROR", None, "".join(traceback.format_exception(error)).rstrip())
        decision = self.retry_policy.decide(attempt=job.attempts, max_attempts=job.max_attempts, error=error)
        logs, live = run.progress.take()
        try:
            if decision.retry:
                self.store.transition(
                    job.job_id,
                    JobStatus.QUEUED,
                    reason=f"{message} ({decision.reason}; retrying in {decision.delay_seconds:.1f} s)",
                    worker_id=self.worker_id,
                    error_message=message,
                    not_before=utcnow() + timedelta(seconds=decision.delay_seconds),
                    merge_metrics=live,
                    logs=logs,
                )
                return JobOutcome(JobStatus.QUEUED, error=message)
            self.store.transition(
                job.job_id,
                JobStatus.FAILED,
                reason=f"{message} ({decision.reason})",
                worker_id=self.worker_id,
                error_message=message,
                merge_metrics=live,
                logs=logs,
            )
        except IllegalTransition as lost:
            self.store.append_logs(job.job_id, logs)  # the job ended otherwise; its lines are still its history
            return JobOutcome(JobStatus(lost.current), error=message)
        return JobOutcome(JobStatus.FAILED, error=message)

    def _return_to_queue(self, run: JobRun) -> JobOutcome:
        """Give a job back when this worker shuts down before the job could finish (not a failed attempt)."""
        run.progress.flush()
        try:
            self.store.transition(
                run.job.job_id,
                JobStatus.QUEUED,
                reason=f"worker {self.worker_id} shut down after a {self.settings.drain_seconds:g} s grace period",
                worker_id=self.worker_id,
                attempts=max(0, run.job.attempts - 1),  # the job did not fail: this attempt does not count
            )
        except IllegalTransition as lost:
            return JobOutcome(JobStatus(lost.current))
        return JobOutcome(JobStatus.QUEUED)

    # -- housekeeping --------------------------------------------------------------------------------------
    def maintain(self, *, force: bool = False) -> None:
        """Heartbeat in ``workers``, reap expired leases and run the hooks' housekeeping, at most every
        MAINTENANCE_SECONDS."""
        if not force and time.monotonic() - self._last_maintenance < MAINTENANCE_SECONDS:
            return
        self._last_maintenance = time.monotonic()
        self.workers.heartbeat(self.worker_id, status="draining" if self._stop.is_set() else "running")
        for reaped in self.store.reap_expired_leases():
            logger.warning("job %s: %s", reaped.job_id, "re-queued" if reaped.status is JobStatus.QUEUED else "failed")
        for hook in self.hooks:
            try:
                hook.maintain(self.worker_id)
            except Exception:  # housekeeping: never fail the running job for it; the next round tries again
                logger.exception("worker %s: housekeeping of %s failed", self.worker_id, type(hook).__name__)

    def drain_overdue(self) -> bool:
        """Whether the worker is shutting down and the running job's grace period is over."""
        if not self._stop.is_set():
            return False
        if self._stop_seen_at is None:
            self._stop_seen_at = time.monotonic()
            logger.info("worker %s draining: %g s for the running job", self.worker_id, self.settings.drain_seconds)
        return time.monotonic() - self._stop_seen_at >= self.settings.drain_seconds
