"""A running job's log lines, progress and live metrics, buffered and written a few times a second.

A short job streams half a dozen events in a fraction of a second; writing each as it comes cost two commits per
event, more than the job's own work. The worker adds events here and the buffer writes them together: at most
every ``flush_seconds`` (the lease renewal and the cancellation check ride on the same write), and the rest with
the job's final transition, in its transaction. Each line keeps the time it was added, so the log's timestamps
stay those of the events.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from trainforge.db.types import utcnow
from trainforge.jobs.records import PendingLog
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore

# How long an event may wait before it is written: what someone following the job's log or progress waits at most.
FLUSH_SECONDS = 0.5
# How long the buffer may go without a write when nothing is buffered: each write renews the lease and reads the
# job's status, so this is how late the worker sees a cancellation (issue 4 asks for the Ray work to stop within 10
# s) however long ``worker_poll_seconds`` is.
CHECK_SECONDS = 1.0


class JobProgress:
    """The buffer of one job's events, for the worker holding its lease.

    Args:
        store: The job store.
        job_id: The running job.
        worker_id: The worker holding its lease (a write does nothing to a job another worker took over).
        lease_seconds: How long each write extends the lease.
        flush_seconds: How long an event may wait in the buffer.
        check_seconds: How long the buffer may go without a write when it is empty.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: UUID,
        *,
        worker_id: str,
        lease_seconds: float,
        flush_seconds: float = FLUSH_SECONDS,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.store, self.job_id = store, job_id
        self.worker_id, self.lease_seconds = worker_id, lease_seconds
        self.flush_seconds, self.check_seconds = flush_seconds, check_seconds
        self._logs: list[PendingLog] = []
        self._metrics: dict[str, Any] = {}
        self._progress: float | None = None
        self._step: str | None = None
        self._last_flush = time.monotonic()

    def log(self, level: str, step: str | None, message: str) -> None:
        self._logs.append(PendingLog(level, step, message, utcnow()))

    def record(
        self, level: str, step: str | None, message: str, *, progress: float | None, metrics: dict[str, Any] | None
    ) -> JobStatus | None:
        """Add an event; write the buffer if it is due. Returns the job's status when it wrote, else None."""
        self.log(level, step, message)
        self._step = step or self._step
        if progress is not None:
            self._progress = progress
        self._metrics.update(metrics or {})
        return self.flush_if_due()

    def due_in(self) -> float:
        """Seconds until the next write is due: ``flush_seconds`` after the last one when events wait in the
        buffer, ``check_seconds`` after it when none do (0 when it is already due)."""
        period = self.flush_seconds if self._logs or self._metrics else self.check_seconds
        return max(0.0, self._last_flush + period - time.monotonic())

    def flush_if_due(self) -> JobStatus | None:
        """Write the buffer if a write is due (see :meth:`due_in`); returns the job's status when it wrote."""
        return self.flush() if self.due_in() <= 0 else None

    def flush(self) -> JobStatus:
        """Write what is buffered and renew the lease (also a heartbeat when nothing is); returns the job's status."""
        logs, metrics = self.take()
        self._last_flush = time.monotonic()
        return self.store.report_progress(
            self.job_id,
            worker_id=self.worker_id,
            progress=self._progress,
            step=self._step,
            metrics=metrics or None,
            logs=logs,
            lease_seconds=self.lease_seconds,
        )

    def take(self) -> tuple[list[PendingLog], dict[str, Any]]:
        """Hand over (and forget) the buffered lines and metrics, for a write that the caller makes."""
        logs, metrics = self._logs, self._metrics
        self._logs, self._metrics = [], {}
        return logs, metrics
