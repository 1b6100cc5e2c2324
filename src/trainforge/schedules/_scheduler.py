"""The scheduler: queues a job for every schedule whose due time has come.

Any number of schedulers may run (the embedded one in ``trainforge serve``, ``trainforge scheduler`` processes):
:meth:`trainforge.schedules._store.ScheduleStore.claim_firing` gives each due time to exactly one of them. A
scheduler that was down, or a clock that jumped, fires a schedule once for all the due times it missed and logs how
many it skipped; the next due time is then the first one after now.

Firing is one transaction: claim the due time (and move ``next_run_at`` on), queue the job, note the job on the
firing and the schedule. If queueing fails, or the process dies before the commit, nothing of it is written, so the
next pass (of this scheduler or another) fires that due time again; a firing is never recorded without its job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from trainforge.db.types import utcnow
from trainforge.jobs.store import JobStore
from trainforge.schedules._cron import MAX_COUNTED_MISSES
from trainforge.schedules._records import Firing, job_for
from trainforge.schedules._store import ScheduleStore
from trainforge.submission import enqueue_job_in

logger = logging.getLogger(__name__)

POLL_SECONDS = 5.0
BATCH_SIZE = 100


class Scheduler:
    """Fires due schedules, once per call of :meth:`fire_due` or every ``poll_seconds`` in :meth:`run`.

    Args:
        schedules: where schedules live.
        jobs: the queue that fired jobs go to.
        clock: the current time (aware UTC); tests pass their own instead of sleeping.
        poll_seconds: how often :meth:`run` looks for due schedules (a due time fires at most this late).
        batch_size: at most this many schedules are fired per pass; the rest wait for the next one.
    """

    def __init__(
        self,
        schedules: ScheduleStore,
        jobs: JobStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = POLL_SECONDS,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.schedules = schedules
        self.jobs = jobs
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size

    def fire_due(self, now: datetime | None = None) -> list[Firing]:
        """Fire every active schedule due at ``now`` (default: the clock's time); returns the firings this caller
        made (those another scheduler claimed are not among them)."""
        now = now or self.clock()
        fired = []
        for schedule_id in self.schedules.due(now, limit=self.batch_size):
            try:
                firing = self._fire(schedule_id, now)
            except Exception:  # one schedule's failure must not stop the others; it is retried on the next pass
                logger.exception("schedule %s: firing failed; will retry", schedule_id)
                continue
            if firing is not None:
                fired.append(firing)
        return fired

    def run(self, stop: threading.Event) -> None:
        """Fire due schedules every ``poll_seconds`` until ``stop`` is set."""
        logger.info("scheduler started (every %.1f s)", self.poll_seconds)
        while not stop.is_set():
            try:
                self.fire_due()
            except Exception:  # the loop must survive a database hiccup
                logger.exception("scheduler: unexpected error; continuing")
            stop.wait(self.poll_seconds)
        logger.info("scheduler stopped")

    def _fire(self, schedule_id, now: datetime) -> Firing | None:
        def enqueue(conn, schedule, firing: Firing):
            reason = f"fired by schedule {schedule.name} ({schedule.schedule_id}) for {firing.due_at.isoformat()}"
            if firing.skipped:
                reason += f"; {firing.skipped} missed due time(s) coalesced"
            job = job_for(schedule, scheduled_for=firing.due_at)
            return enqueue_job_in(conn, job, jobs=self.jobs, reason=reason).job_id

        claim = self.schedules.claim_firing(schedule_id, now, enqueue)
        if claim is None:
            return None
        schedule, firing = claim
        if firing.skipped:
            logger.warning(
                "schedule %s (%s): %s%d missed due time(s) after %s coalesced into one job",
                schedule.name,
                schedule.schedule_id,
                "at least " if firing.skipped >= MAX_COUNTED_MISSES else "",
                firing.skipped,
                firing.due_at.isoformat(),
            )
        logger.info("schedule %s (%s) queued job %s", schedule.name, schedule.schedule_id, firing.job_id)
        return firing
