"""The worker's side of step checkpoints: where a job's are kept, and removing them once the job has ended.

The pipeline writes a job's checkpoints (:mod:`trainforge.pipeline.checkpoints`) in ``<checkpoint_root>/<job_id>/``.
They stay while the job may run again (re-queued for a retry, or by a draining worker) and go when it ends:
completed, failed for good or cancelled. The worker that ran the job removes them then (:class:`CheckpointCleanup`,
a hook); the directories of jobs that ended with no worker watching (cancelled while waiting for a retry, failed by
a reaper) go in the next sweep.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from trainforge.errors import JobNotFound
from trainforge.jobs.hooks import JobHook
from trainforge.jobs.store import JobStore

if TYPE_CHECKING:
    from trainforge.jobs.run import JobRun
    from trainforge.jobs.worker import JobOutcome

logger = logging.getLogger(__name__)

# How often each worker looks for the checkpoint directories of ended jobs.
SWEEP_SECONDS = 60.0


def job_checkpoint_dir(root: str | Path, job_id: UUID) -> Path:
    """The directory of one job's checkpoints (it exists once a step has been saved)."""
    return Path(root) / str(job_id)


def remove_job_checkpoints(root: str | Path, job_id: UUID) -> bool:
    """Delete a job's checkpoints; True if there were any. A failure is logged, never raised: the job is over."""
    directory = job_checkpoint_dir(root, job_id)
    try:
        shutil.rmtree(directory)
    except FileNotFoundError:
        return False
    except OSError as error:
        logger.warning("job %s: could not remove its checkpoints in %s: %s", job_id, directory, error)
        return False
    return True


def sweep_ended_jobs(root: str | Path, store: JobStore) -> list[UUID]:
    """Remove the checkpoints of every job in ``store`` that has ended; returns the ids of the jobs swept."""
    root = Path(root)
    if not root.is_dir():
        return []
    swept = []
    for directory in root.iterdir():
        try:
            job_id = UUID(directory.name)
            ended = store.get(job_id).status.is_terminal
        except (ValueError, JobNotFound):
            continue  # not a job of this database: not ours to judge
        if ended and remove_job_checkpoints(root, job_id):
            swept.append(job_id)
    return swept


class CheckpointCleanup(JobHook):
    """Removes a job's checkpoints once it has ended for good, and sweeps those of jobs that ended unwatched.

    Args:
        root: The checkpoint root (``Settings.resolved_checkpoint_root``).
        store: The job store (the sweep reads whether each job has ended).
        sweep_seconds: How often a worker sweeps.
    """

    def __init__(self, root: str | Path, store: JobStore, *, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.root, self.store, self.sweep_seconds = root, store, sweep_seconds
        self._last_sweep = 0.0

    def after_job(self, run: JobRun, outcome: JobOutcome) -> None:
        if outcome.status.is_terminal:
            remove_job_checkpoints(self.root, run.job.job_id)

    def maintain(self, worker_id: str) -> None:
        if time.monotonic() - self._last_sweep < self.sweep_seconds:
            return
        self._last_sweep = time.monotonic()
        for job_id in sweep_ended_jobs(self.root, self.store):
            logger.info("job %s has ended: removed its checkpoints", job_id)
