"""The job state machine: statuses and the table of allowed transitions.

Plain Python with no database import, so the rules can be read and tested on their own. The database enforces the
same table (``JobStore.transition`` updates only rows in an allowed source status).
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

# status -> the statuses it may move to (DESIGN §2).
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    # running -> queued: its lease expired or it is retried after a failed attempt.
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),  # retry
    JobStatus.COMPLETED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


# What a user's retry may put back in the queue. The state machine also allows running -> queued, but that move is
# the system's: the reaper's (the lease expired), a draining worker's and a worker's retry of its own failed attempt.
# A user's would clear a live lease and let a second worker claim the job while the first still computes it.
RETRYABLE = frozenset({JobStatus.FAILED})


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """The statuses from which ``target`` may be reached (what the conditional UPDATE matches on)."""
    return frozenset(status for status, targets in ALLOWED_TRANSITIONS.items() if target in targets)
