"""Lifecycle hooks: what every job needs, around the steps of any kind, in the manner of dramatiq's middleware.

The worker calls each hook, in order, when its workers start, before and after a job, before and after each of
its kind's steps, and at its periodic housekeeping. A cross-cutting concern is one hook, not an ``if`` in the
worker loop: today Ray's runtime (:class:`trainforge.compute.RayRuntime`) and the removal of ended jobs'
checkpoints (:class:`trainforge.jobs.CheckpointCleanup`). Notifications need none: they follow the job's events in
the database (an outbox), whichever process ended the job. A hook that raises in
``before_job``/``before_step``/``after_step`` fails the job like a step would; ``after_job`` and ``maintain`` are
bookkeeping: their errors are logged, never raised into the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainforge.jobs.run import JobRun
    from trainforge.jobs.worker import JobOutcome

__all__ = ["JobHook"]


class JobHook:
    """The hook points; a hook overrides the ones it needs (every default does nothing)."""

    def workers_starting(self, count: int) -> None:
        """Once in a worker process, before its ``count`` worker threads claim anything (start a runtime here)."""

    def before_job(self, run: JobRun) -> None:
        """A job was claimed; its first step is next."""

    def before_step(self, run: JobRun, step: str) -> None:
        """The kind's step ``step`` is next."""

    def after_step(self, run: JobRun, step: str) -> None:
        """The kind's step ``step`` finished without an error."""

    def after_job(self, run: JobRun, outcome: JobOutcome) -> None:
        """The attempt has ended and is recorded as ``outcome`` (completed, back in the queue, failed, ...)."""

    def maintain(self, worker_id: str) -> None:
        """The worker's periodic housekeeping (every few seconds, idle or busy)."""
