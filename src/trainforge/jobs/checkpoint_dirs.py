"""The worker's side of step checkpoints: where a job's are kept, and removing them once the job has ended.

The pipeline writes a job's checkpoints (:mod:`trainforge.pipeline.checkpoints`) in ``<checkpoint_root>/<job_id>/``.
They stay while the job may run again (re-queued for a retry, or by a draining worker) and go when it ends:
completed, failed for good or cancelled. The worker that ran the job removes them then; the directories of jobs
that ended with no worker watching (cancelled while waiting for a retry, failed by a reaper) go in the next sweep.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from uuid import UUID

from trainforge.errors import JobNotFound
from trainforge.jobs.store import JobStore

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
