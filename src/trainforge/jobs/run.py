"""One attempt of one claimed job: what its kind's steps and the worker's hooks are given.

A :class:`JobRun` holds the claimed job, the worker's settings and store, and the job's buffered progress
(:class:`~trainforge.jobs.progress.JobProgress`). Steps log and report through it; every write renews the lease
and reads the job's status, and a step that finds the job cancelled stops with
:class:`~trainforge.errors.IllegalTransition`. A step that runs long calls :meth:`JobRun.heartbeat` while it waits
and :meth:`JobRun.check_drain` to give the job back when the worker is shutting down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainforge.errors import IllegalTransition
from trainforge.jobs.progress import JobProgress
from trainforge.jobs.records import JobRecord
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.settings import Settings

__all__ = ["JobRun", "WorkerDraining"]


class WorkerDraining(Exception):
    """The worker is shutting down and its grace period for the running job is over (the job goes back to the
    queue, its attempt not counted)."""


class JobRun:
    """A claimed job on the worker that holds its lease.

    Args:
        job: The claimed job.
        store: The job store.
        settings: The worker's settings.
        worker_id: The worker holding the lease.
        drain_overdue: True once the worker is shutting down and the job's grace period is over.
        maintain: The worker's housekeeping (its heartbeat and the reaper), run while a step waits.

    Attributes:
        progress: The job's buffered log lines, progress and live metrics.
    """

    def __init__(
        self,
        job: JobRecord,
        *,
        store: JobStore,
        settings: Settings,
        worker_id: str,
        drain_overdue: Callable[[], bool],
        maintain: Callable[[], None],
    ) -> None:
        self.job = job
        self.store = store
        self.settings = settings
        self.worker_id = worker_id
        self.drain_overdue = drain_overdue
        self._maintain = maintain
        self.progress = JobProgress(store, job.job_id, worker_id=worker_id, lease_seconds=settings.lease_seconds)

    def log(self, level: str, step: str | None, message: str) -> None:
        """Add a line to the job's log (written with the next write of the buffer)."""
        self.progress.log(level, step, message)

    def report(
        self,
        level: str,
        step: str | None,
        message: str,
        *,
        progress: float | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        """Add a log line with progress and live metrics; write them if due.

        Raises:
            IllegalTransition: the write found the job cancelled.
        """
        self.stop_if_cancelled(self.progress.record(level, step, message, progress=progress, metrics=metrics))

    def flush(self) -> None:
        """Write what is buffered now (before a long or an external step).

        Raises:
            IllegalTransition: the job was cancelled meanwhile.
        """
        self.stop_if_cancelled(self.progress.flush())

    def heartbeat(self) -> None:
        """While a step waits: the worker's housekeeping, and the buffer's write when due (renewing the lease).

        Raises:
            IllegalTransition: the write found the job cancelled.
        """
        self._maintain()
        self.stop_if_cancelled(self.progress.flush_if_due())

    def check_drain(self) -> None:
        """Raises:
        WorkerDraining: the worker is shutting down and the job's grace period is over."""
        if self.drain_overdue():
            raise WorkerDraining

    def stop_if_cancelled(self, status: JobStatus | None) -> None:
        """Raise IllegalTransition if a write of the job's buffer (``status``: what it read) found it cancelled."""
        if status is JobStatus.CANCELLED:
            raise IllegalTransition(self.job.job_id, JobStatus.CANCELLED.value, JobStatus.RUNNING.value)
