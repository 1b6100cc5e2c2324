"""The worker: claims queued jobs and runs each one on Ray until it ends.

One worker runs one job at a time (concurrency comes from several workers: ``WorkerPool`` runs them as threads of
one process, each with its own id and lease). While the job's Ray task streams events back, the worker writes them
as log lines and progress, renews the job's lease, and watches for a cancellation (then it kills the Ray task).
Between jobs it heartbeats in the ``workers`` table and reaps the jobs of workers whose leases expired. A failure
is retried per the :class:`RetryPolicy`; the retry reuses the steps the failed attempt checkpointed in the job's
checkpoint directory, which the worker removes once the job has ended. When asked to stop it drains: it claims
nothing more, lets the running job finish within ``drain_seconds``, then cancels its Ray work and returns it to
the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import ray

from trainforge.compute.ray_runtime import ensure_ray
from trainforge.compute.tasks import run_forecast_task
from trainforge.db.types import utcnow
from trainforge.errors import IllegalTransition, PipelineError, TrainforgeError
from trainforge.hpo.store import StudyStore
from trainforge.jobs.checkpoint_dirs import SWEEP_SECONDS, job_checkpoint_dir, remove_job_checkpoints, sweep_ended_jobs
from trainforge.jobs.progress import JobProgress
from trainforge.jobs.records import JobRecord
from trainforge.jobs.retry import RetryPolicy
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.jobs.tuning import TUNE_PROGRESS, StudyStopped, TuningOutcome, tune
from trainforge.jobs.worker_registry import WorkerRegistry
from trainforge.pipeline.checkpoints import stored_steps
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.result import STEPS, PipelineResult, StepEvent
from trainforge.registry import JobIdentity, ModelRegistry, RegisteredVersion
from trainforge.settings import Settings

logger = logging.getLogger(__name__)

# How often an idle or busy worker touches its row in ``workers`` and looks for expired leases.
MAINTENANCE_SECONDS = 5.0


class WorkerDraining(Exception):
    """The worker is shutting down and its grace period for the running job is over."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class JobOutcome:
    status: JobStatus
    model_id: str | None = None
    error: str | None = None


class Worker:
    """Claims jobs from a :class:`JobStore` and runs them on Ray."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        registry: ModelRegistry,
        *,
        worker_id: str | None = None,
        poll_seconds: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.workers = WorkerRegistry(store.engine)
        self.studies = StudyStore(store.engine)
        self.worker_id = worker_id or default_worker_id()
        self.poll_seconds = poll_seconds or settings.worker_poll_seconds
        self.lease_seconds = settings.lease_seconds
        self.retry_policy = retry_policy or RetryPolicy(base_delay_seconds=settings.retry_base_delay_seconds)
        self._stop = threading.Event()
        self._stop_seen_at: float | None = None
        self._last_maintenance = 0.0
        self._last_sweep = 0.0
        self._progress: JobProgress | None = None  # the running job's buffered events

    def run(self, stop: threading.Event) -> None:
        """Claim and run jobs until ``stop`` is set; then drain (see the module docstring) and return."""
        ensure_ray(self.settings)
        self._stop = stop
        self.workers.register(self.worker_id)
        logger.info("worker %s started", self.worker_id)
        try:
            while not stop.is_set():
                try:
                    self._maintain()
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
        """Run a claimed job and record how it ended; if it has ended for good, remove its checkpoints."""
        self._progress = JobProgress(self.store, job.job_id, worker_id=self.worker_id, lease_seconds=self.lease_seconds)
        outcome = self._attempt(job)
        if outcome.status.is_terminal:
            remove_job_checkpoints(self.settings.resolved_checkpoint_root, job.job_id)
        return outcome

    def _attempt(self, job: JobRecord) -> JobOutcome:
        try:
            config = TrainingConfig.model_validate(job.config)
            result, tuned = self._run_pipeline(job, config)
            if not config.registers_model:
                return self._complete(job, result, model_id=None, reason="evaluated (register_model is false)")
            return self._register_and_complete(job, result, tuned)
        except IllegalTransition as lost:
            # Someone else changed the job meanwhile (a cancellation, or a reaper re-queued it): theirs stands, and
            # the job's Ray task has been cancelled.
            self._log(job, "WARNING", None, f"Worker stopped the job's Ray task: {lost.message}")
            self._job_progress.flush()
            return JobOutcome(JobStatus(lost.current))
        except (WorkerDraining, StudyStopped):
            return self._return_to_queue(job)
        except Exception as error:  # every failure, ours or a library's, ends the job as failed, never silently
            return self._fail(job, error)

    # -- steps ---------------------------------------------------------------------------------------------
    def _run_pipeline(self, job: JobRecord, config: TrainingConfig) -> tuple[PipelineResult, TuningOutcome | None]:
        ensure_ray(self.settings)
        checkpoint_dir = job_checkpoint_dir(self.settings.resolved_checkpoint_root, job.job_id)
        self._log_stored_checkpoints(job, checkpoint_dir)
        request = {
            "tenant_id": job.tenant_id,
            "feature_set": job.feature_set,
            "config": config,
            "feature_store_root": self.settings.resolved_feature_store_root,
            "num_threads": self.settings.train_threads,
            # Written by the Ray task itself: on a remote cluster, the checkpoint root must be shared storage.
            "checkpoint_dir": str(checkpoint_dir),
        }
        tuned = None
        if config.enable_hpo:
            self._job_progress.flush()  # the study writes its own lines: this job's earlier ones go first
            tuned = tune(
                job,
                config,
                settings=self.settings,
                job_store=self.store,
                study_store=self.studies,
                backend=self.registry.backend,
                worker_id=self.worker_id,
                request=request,
                draining=self._drain_overdue,
            )
            request["hyperparams"] = tuned.hyperparams
        stream = run_forecast_task.options(num_cpus=self.settings.job_cpus).remote(request)
        try:
            result = self._follow(job, stream, progress_from=TUNE_PROGRESS[1] if tuned else 0.0)
        except BaseException:
            ray.cancel(stream, force=True)  # never leave a Ray task computing for a job that has ended
            raise
        if result is None:
            raise PipelineError("the pipeline ended without a result")
        return result, tuned

    def _follow(self, job: JobRecord, stream, *, progress_from: float = 0.0) -> PipelineResult | None:
        """Record the stream's events until it ends; raises IllegalTransition if the job was cancelled meanwhile."""
        result: PipelineResult | None = None
        while True:
            self._check_drain()
            # Wake when the stream has more or when the buffer's next write is due (at least every
            # progress.CHECK_SECONDS: the write renews the lease and tells whether the job was cancelled meanwhile).
            ready, _ = ray.wait([stream], timeout=self._job_progress.due_in())
            if not ready:
                self._stop_if_cancelled(job, self._heartbeat(job))
                continue
            try:
                batch = ray.get(next(stream))  # a list of events (see run_forecast_task), the result last
            except StopIteration:
                break
            except ray.exceptions.RayTaskError as error:
                raise error.cause if isinstance(error.cause, Exception) else error from None
            for item in batch:
                if isinstance(item, StepEvent):
                    if progress_from and item.progress is not None:  # after a study: the fit's progress starts there
                        item = replace(item, progress=progress_from + (1 - progress_from) * item.progress)
                    self._record(job, item)
                else:
                    result = item
        return result

    def _register_and_complete(
        self, job: JobRecord, result: PipelineResult, tuned: TuningOutcome | None = None
    ) -> JobOutcome:
        self._record(job, StepEvent("register", "Registering the model in MLflow", progress=STEPS["evaluate"]))
        # Registration takes a while: show where the job is, and register nothing for a job cancelled meanwhile.
        self._stop_if_cancelled(job, self._job_progress.flush())
        identity = JobIdentity(
            job_id=str(job.job_id),
            tenant_id=job.tenant_id,
            model_name=job.model_name,
            model_type=job.model_type,
            feature_set=job.feature_set,
            config=job.config,
            study_id=None if tuned is None else str(tuned.study.study_id),
            best_trial=None if tuned is None else tuned.best.number,
        )
        if tuned is not None:  # the study's best trial is part of the model's lineage (and its run's metrics)
            best = tuned.best
            result = replace(
                result,
                metrics={**result.metrics, "hpo_best_trial": float(best.number), "hpo_best_val_mae": best.value},
            )
        version = self.registry.register_job_result(identity, result)
        self._log(job, "INFO", "register", f"Registered {version.model_id} (MLflow run {version.run_id})")
        try:
            return self._complete(
                job, result, model_id=version.model_id, reason=f"trained and registered {version.model_id}"
            )
        except IllegalTransition as lost:
            self._withdraw_if_ended(job, version, lost)
            raise

    def _withdraw_if_ended(self, job: JobRecord, version: RegisteredVersion, lost: IllegalTransition) -> None:
        """Delete the version a job registered if the job ended otherwise meanwhile (cancelled, or failed by the
        reaper): no version may stand for a job that did not complete. A job that went back to the queue, or that
        another attempt completed, keeps it: registration is idempotent per job, and that attempt reuses it."""
        if lost.current not in (JobStatus.CANCELLED.value, JobStatus.FAILED.value):
            return
        try:
            self.registry.withdraw_version(version)
        except Exception:  # the job has ended either way; say what is left behind
            logger.exception("job %s: could not withdraw %s", job.job_id, version.model_id)
            self._log(
                job, "ERROR", "register", f"The job ended {lost.current}, but {version.model_id} could not be withdrawn"
            )
            return
        self._log(
            job,
            "WARNING",
            "register",
            f"Withdrew {version.model_id}: the job ended {lost.current} while it was being registered",
        )

    def _complete(self, job: JobRecord, result: PipelineResult, *, model_id: str | None, reason: str) -> JobOutcome:
        logs, live = self._job_progress.take()
        metrics = {**live, **result.metrics, **{f"{step}_seconds": s for step, s in result.step_seconds.items()}}
        try:
            self.store.transition(
                job.job_id,
                JobStatus.COMPLETED,
                reason=reason,
                worker_id=self.worker_id,
                model_id=model_id,
                # Merged, not replaced: events already stored live metrics (rows, resources) that the result lacks.
                merge_metrics=metrics,
                logs=logs,
                progress=1.0,
                current_step="done",
            )
        except IllegalTransition:
            self.store.append_logs(job.job_id, logs)  # the job ended otherwise; its lines are still its history
            raise
        return JobOutcome(JobStatus.COMPLETED, model_id=model_id)

    def _fail(self, job: JobRecord, error: Exception) -> JobOutcome:
        """End the attempt as failed: back to the queue after a backoff, or failed for good (RetryPolicy)."""
        message = error.message if isinstance(error, TrainforgeError) else f"{type(error).__name__}: {error}"
        self._log(job, "ERROR", None, "".join(traceback.format_exception(error)).rstrip())
        decision = self.retry_policy.decide(attempt=job.attempts, max_attempts=job.max_attempts, error=error)
        logs, live = self._job_progress.take()
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

    def _return_to_queue(self, job: JobRecord) -> JobOutcome:
        """Give a job back when this worker shuts down before the job could finish (not a failed attempt)."""
        self._job_progress.flush()
        try:
            self.store.transition(
                job.job_id,
                JobStatus.QUEUED,
                reason=f"worker {self.worker_id} shut down after a {self.settings.drain_seconds:g} s grace period",
                worker_id=self.worker_id,
                attempts=max(0, job.attempts - 1),  # the job did not fail: this attempt does not count
            )
        except IllegalTransition as lost:
            return JobOutcome(JobStatus(lost.current))
        return JobOutcome(JobStatus.QUEUED)

    # -- housekeeping --------------------------------------------------------------------------------------
    def _maintain(self, *, force: bool = False) -> None:
        """Heartbeat in ``workers`` and reap expired leases, at most every MAINTENANCE_SECONDS; remove the checkpoints
        of ended jobs every SWEEP_SECONDS."""
        if not force and time.monotonic() - self._last_maintenance < MAINTENANCE_SECONDS:
            return
        self._last_maintenance = time.monotonic()
        self.workers.heartbeat(self.worker_id, status="draining" if self._stop.is_set() else "running")
        for reaped in self.store.reap_expired_leases():
            logger.warning("job %s: %s", reaped.job_id, "re-queued" if reaped.status is JobStatus.QUEUED else "failed")
        if time.monotonic() - self._last_sweep >= SWEEP_SECONDS:
            self._last_sweep = time.monotonic()
            try:
                for job_id in sweep_ended_jobs(self.settings.resolved_checkpoint_root, self.store):
                    logger.info("job %s has ended: removed its checkpoints", job_id)
            except Exception:  # housekeeping: never fail the running job for it; the next sweep tries again
                logger.exception("worker %s: the sweep of ended jobs' checkpoints failed", self.worker_id)

    def _check_drain(self) -> None:
        if self._drain_overdue():
            raise WorkerDraining

    def _drain_overdue(self) -> bool:
        """Whether the worker is shutting down and the running job's grace period is over."""
        if not self._stop.is_set():
            return False
        if self._stop_seen_at is None:
            self._stop_seen_at = time.monotonic()
            logger.info("worker %s draining: %g s for the running job", self.worker_id, self.settings.drain_seconds)
        return time.monotonic() - self._stop_seen_at >= self.settings.drain_seconds

    # -- recording -----------------------------------------------------------------------------------------
    def _log_stored_checkpoints(self, job: JobRecord, checkpoint_dir: Path) -> None:
        """Say at the start of a retry what earlier attempts left (the pipeline says what it reuses)."""
        steps = stored_steps(checkpoint_dir)
        if job.attempts <= 1 and not steps:
            return
        found = f"checkpoints of steps {', '.join(map(repr, steps))}" if steps else "no checkpoints"
        self._log(job, "INFO", None, f"Attempt {job.attempts} of {job.max_attempts}: {found} from an earlier attempt")

    @property
    def _job_progress(self) -> JobProgress:
        if self._progress is None:
            raise RuntimeError("no job is running on this worker")
        return self._progress

    def _record(self, job: JobRecord, event: StepEvent) -> None:
        self._stop_if_cancelled(
            job,
            self._job_progress.record(
                event.level, event.step, event.message, progress=event.progress, metrics=event.metrics
            ),
        )

    @staticmethod
    def _stop_if_cancelled(job: JobRecord, status: JobStatus | None) -> None:
        """Raise IllegalTransition if a write of the job's buffer (``status``: what it read) found it cancelled."""
        if status is JobStatus.CANCELLED:
            raise IllegalTransition(job.job_id, JobStatus.CANCELLED.value, JobStatus.RUNNING.value)

    def _heartbeat(self, job: JobRecord) -> JobStatus | None:
        self._maintain()
        return self._job_progress.flush_if_due()

    def _log(self, job: JobRecord, level: str, step: str | None, message: str) -> None:
        self._job_progress.log(level, step, message)
