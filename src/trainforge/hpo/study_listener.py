"""The coordinator's listener for a study that runs as a job: its trials, counts and progress, in few commits.

Every finished trial touches four tables of the metadata database: its row in the trials mirror (what
``GET /optimize/{id}/trials`` reads), the study's counts and best trial, a line of the job's log, and the job's
progress, live metrics and lease. Written one at a time that was 4-5 commits a trial, made by the coordinator's
thread between one trial and the next. Here they are written together, in one transaction (the mirror, the study
and the job never disagree), and events that come close together share it:

- A started trial waits for the next write, so it shows RUNNING in the listing within about a second (the
  coordinator asks :meth:`JobStudyListener.should_stop` every 0.5 s, and that writes whatever waits). A trial that
  ends before then is written once, as it ended.
- A finished trial is written at once, unless the listener wrote less than :data:`BATCH_SECONDS` ago; then it
  waits for the next finished trial after that, or the next ``should_stop``. Trials that end further apart are
  written one by one as they end; instant ones in a batch about every 0.5 s.
- Every write renews the job's lease and reads its status, so a cancellation is seen at the next write; with
  nothing to write the lease is renewed every :data:`HEARTBEAT_SECONDS`.
- What waits when the worker dies is lost with it; the next attempt's coordinator reports every trial the study
  had finished (:meth:`JobStudyListener.trials_resumed`), and they are written again.

MLflow is told of each finished trial at once (:class:`~trainforge.hpo._study_runs.StudyRuns` logs them from
a thread of its own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from trainforge.db.engine import write_transaction
from trainforge.hpo._study_runs import StudyRuns
from trainforge.hpo.records import StudyRecord, TrialRecord
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import JobRecord
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore, LogInput

__all__ = ["BATCH_SECONDS", "HEARTBEAT_SECONDS", "TUNE_PROGRESS", "JobStudyListener"]

logger = logging.getLogger(__name__)

# The job's progress while its study runs: from the start of tuning to its end; the final fit takes the rest.
TUNE_PROGRESS = (0.05, 0.75)
# Least time between two writes while trials keep finishing: instant trials share a commit, slow ones never wait.
BATCH_SECONDS = 0.5
# How often the lease is renewed (and a cancellation looked for) when no trial finishes.
HEARTBEAT_SECONDS = 2.0


class JobStudyListener:
    """What the coordinator reports, written to the study's mirror, the study and its job (see the module).

    Args:
        job: The job running the study.
        study: The study.
        job_store: For the job's progress, logs and lease.
        study_store: The study and its trials' mirror (on the same database as ``job_store``).
        runs: The study's MLflow runs, or None.
        worker_id: The worker holding the job's lease.
        lease_seconds: How long each write extends the lease.
        draining: True once the worker is shutting down and its grace period is over.
        clock: Seconds of a monotonic clock (tests pass their own).

    Attributes:
        cancelled: The job was cancelled (seen at a write); ``should_stop`` then stops the study.
        drained: The study was stopped because the worker is draining.
    """

    def __init__(
        self,
        *,
        job: JobRecord,
        study: StudyRecord,
        job_store: JobStore,
        study_store: StudyStore,
        runs: StudyRuns | None,
        worker_id: str,
        lease_seconds: float,
        draining: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job, self.study = job, study
        self.job_store, self.study_store = job_store, study_store
        self.runs = runs
        self.worker_id, self.lease_seconds = worker_id, lease_seconds
        self.draining = draining
        self.clock = clock
        self.cancelled = False
        self.drained = False
        # Waiting for the next write: trials by number (a finished one replaces its started one), log lines, and
        # the latest best and counts (None: no trial finished since the last write).
        self._trials: dict[int, TrialRecord] = {}
        self._logs: list[LogInput] = []
        self._best: TrialRecord | None = None
        self._counts: dict[str, int] | None = None
        self._last_write = clock()

    # -- the coordinator's calls ---------------------------------------------------------------------------
    def trials_resumed(self, trials: Sequence[TrialRecord], best: TrialRecord | None, counts: dict[str, int]) -> None:
        """Write every trial an earlier attempt finished (the last ones may never have been written) at once."""
        for trial in trials:
            self._trials[trial.number] = trial
            if self.runs is not None:
                self.runs.trial_finished(trial)  # skips the trials its parent run already has
        self._best, self._counts = best, counts
        self.flush()

    def trial_started(self, trial: TrialRecord) -> None:
        """Hold the trial for the next write (at most about a second away)."""
        self._trials[trial.number] = trial

    def trial_finished(self, trial: TrialRecord, best: TrialRecord | None, counts: dict[str, int]) -> None:
        """Queue the trial for MLflow; write it now, or with the next write if the last one was moments ago."""
        if self.runs is not None:
            self.runs.trial_finished(trial)
        self._trials[trial.number] = trial
        self._logs.append(("WARNING" if trial.state == "FAIL" else "INFO", "tune", _describe(trial, best)))
        self._best, self._counts = best, counts
        if self.clock() - self._last_write >= BATCH_SECONDS:
            self.flush()

    def should_stop(self) -> bool:
        """Write what waits (or renew the lease when it is due); True when the job was cancelled or the worker
        is draining."""
        if self.draining():
            self.drained = True
            return True
        if self._trials or self._logs or self.clock() - self._last_write >= HEARTBEAT_SECONDS:
            self.flush()
        return self.cancelled

    # -- writing -------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what waits and the job's progress, and renew its lease, in one transaction; note a cancellation.

        Raises:
            DatabaseUnavailable, SQLAlchemyError: The metadata database failed; what waited is kept for the next
                write.
        """
        progress: float | None = None
        metrics: dict[str, float] | None = None
        with write_transaction(self.job_store.engine) as conn:
            self.study_store.record_trials_in(conn, self.study.study_id, self._trials.values())
            if self._counts is not None:
                self.study_store.update_progress_in(conn, self.study.study_id, self._best, self._counts)
                progress, metrics = self._progress(self._best, self._counts)
            status = self.job_store.report_progress_in(
                conn,
                self.job.job_id,
                worker_id=self.worker_id,
                progress=progress,
                step="tune" if progress is not None else None,
                metrics=metrics,
                logs=self._logs,
                lease_seconds=self.lease_seconds,
            )
        self._trials, self._logs, self._counts = {}, [], None
        self._last_write = self.clock()
        self.cancelled = self.cancelled or status is JobStatus.CANCELLED

    def flush_after_error(self) -> None:
        """:meth:`flush` once the study has failed: record what can be recorded, never raise over its error."""
        try:
            self.flush()
        except Exception:
            logger.exception("study %s: could not record its last trials", self.study.study_id)

    def _progress(self, best: TrialRecord | None, counts: dict[str, int]) -> tuple[float, dict[str, float]]:
        finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
        total = self.study.n_trials
        low, high = TUNE_PROGRESS
        metrics: dict[str, float] = {"current_trial": float(finished), "total_trials": float(total)}
        metrics |= {"trials_pruned": float(counts.get("PRUNED", 0)), "trials_failed": float(counts.get("FAIL", 0))}
        if best is not None and best.value is not None:
            metrics["best_mae"] = float(best.value)
            if best.rmse is not None:
                metrics["best_rmse"] = float(best.rmse)
        return low + (high - low) * min(1.0, finished / max(1, total)), metrics


def _describe(trial: TrialRecord, best: TrialRecord | None) -> str:
    """The job's log line for a finished trial."""
    seconds = f" in {trial.duration_seconds:.1f} s" if trial.duration_seconds is not None else ""
    if trial.state == "COMPLETE":
        mark = " (best so far)" if best is not None and best.number == trial.number else ""
        return f"Trial {trial.number} complete{seconds}: validation MAE {trial.value:.4g}{mark}; {trial.params}"
    if trial.state == "PRUNED":
        return f"Trial {trial.number} pruned{seconds} (validation MAE {trial.value}); {trial.params}"
    return f"Trial {trial.number} failed{seconds}: {trial.error}"
