"""The study coordinator: asks Optuna for trials, runs them on trial actors, tells Optuna how they ended.

One coordinator runs a study, in the worker that claimed the study's job. It alone talks to Optuna's storage
(ask/tell), so SQLite sees one writer and no trial ever waits on a database lock; the trials run on Ray, in
``parallel_jobs`` long-lived :class:`~trainforge.hpo.trial_actor.TrialActor` processes that stream reports back.

The study lives in the storage, not in this process. A coordinator that starts finds whatever a previous one left
(the study is opened with ``load_if_exists``): it keeps every finished trial, fails each trial left RUNNING by a
coordinator that died (nothing else can be running it: the study's job is leased to one worker), retries those
with the same parameters, and carries on until ``n_trials`` trials have COMPLETED or been PRUNED. The timeout
counts from the study's first start, recorded in the study's user attributes, so restarts do not extend it.

Per trial the coordinator makes four storage transactions (the new trial with its sampled parameters, two user
attributes, the final state) plus one per report, and reads nothing back from the database
(:class:`~trainforge.hpo.optuna_storage.SingleWriterStorage`). Nothing polls: it blocks in ``ray.wait``
on the trials' streams, waking at least every :data:`POLL_SECONDS` to ask the listener whether to stop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import optuna
import ray
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from trainforge.errors import PipelineError, TrainforgeError
from trainforge.hpo.optuna_storage import SingleWriterStorage, optuna_storage_errors, optuna_study_name
from trainforge.hpo.records import TrialRecord
from trainforge.hpo.samplers import make_sampler
from trainforge.hpo.space import SearchSpace
from trainforge.hpo.trial_actor import TrialActor

__all__ = [
    "POLL_SECONDS",
    "StudyListener",
    "StudyOutcome",
    "StudySpec",
    "TrialRecord",
    "run_study",
]

logger = logging.getLogger(__name__)

# The listener's should_stop() is asked at least this often (cancellation and drain latency).
POLL_SECONDS = 0.5
# Study user attributes.
STARTED_AT_ATTR = "trainforge_started_at"  # epoch seconds of the study's first start: the timeout counts from it
# Trial user attributes.
RETRY_OF_ATTR = "retry_of"  # the number of the failed trial this one re-runs
ATTEMPT_ATTR = "attempt"  # 1 for a fresh trial, 2 for its first retry, ...
ERROR_ATTR = "error"  # why a FAIL trial failed
# Failures in a row (no trial completed or was pruned in between) after which the study gives up: when every
# trial fails the cause is not the trial (bad data, a broken node), and retrying forever would hide it.
MAX_FAILURES_IN_A_ROW = 10
_MAX_ERROR_CHARS = 2000
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass
class StudySpec:
    """What a study searches and how.

    Attributes:
        study_id: trainforge's id of the study (the Optuna study is ``trainforge-<study_id>``).
        space: The checked search space.
        strategy: One of ``trainforge.hpo.space.STRATEGIES``.
        seed: Seed of the sampler (reproducible with ``parallel_jobs=1``), or None.
        n_trials: Trials to finish (COMPLETE or PRUNED); failed trials do not count.
        parallel_jobs: Trials in flight at once (one trial actor each).
        timeout_seconds: Most seconds from the study's first start, or None.
        pruner: ``median`` (MedianPruner), ``successive_halving`` (SuccessiveHalvingPruner) or ``none``.
        max_trial_retries: How many times a failed trial is re-run with the same parameters.
        report_every: Boosting rounds between two intermediate values (what the pruner judges).
    """

    study_id: uuid.UUID
    space: SearchSpace
    strategy: str
    seed: int | None
    n_trials: int
    parallel_jobs: int
    timeout_seconds: float | None
    pruner: Literal["median", "successive_halving", "none"] = "median"
    max_trial_retries: int = 1
    report_every: int = 10


class StudyListener(Protocol):
    """What the coordinator reports to while it runs (the worker: mirror table, MLflow, job progress).

    Calls come from the coordinator's thread, one at a time; a slow listener slows the study. A record passed to
    ``trial_started`` is the same object later passed, changed, to ``trial_finished``.
    """

    def trials_resumed(self, trials: list[TrialRecord], best: TrialRecord | None, counts: dict[str, int]) -> None:
        """Once, before any other call, when the study resumes: every trial earlier runs finished, in number order
        (not called when none did).

        A listener that lost what it was told (it writes in batches, or its process died between Optuna storing a
        trial and the listener hearing of it) records them again here.
        """

    def trial_started(self, trial: TrialRecord) -> None: ...

    def trial_finished(self, trial: TrialRecord, best: TrialRecord | None, counts: dict[str, int]) -> None:
        """``counts``: finished trials by state (``COMPLETE``, ``PRUNED``, ``FAIL``); ``best``: lowest value."""

    def should_stop(self) -> bool:
        """True to end the study now (job cancelled, worker draining); asked at least every 0.5 s."""


@dataclass
class StudyOutcome:
    """How a study ended.

    Attributes:
        best: The COMPLETE trial with the lowest value, None if none completed.
        counts: Finished trials by state (``COMPLETE``, ``PRUNED``, ``FAIL``), over every run of the study.
        reason: ``finished`` (n_trials done), ``timeout``, ``stopped`` (the listener asked) or ``grid_exhausted``
            (a grid search visited every point before n_trials).
    """

    best: TrialRecord | None
    counts: dict[str, int]
    reason: Literal["finished", "timeout", "stopped", "grid_exhausted"]


def run_study(
    spec: StudySpec,
    storage: RDBStorage,
    data_ref: ray.ObjectRef,
    listener: StudyListener,
    *,
    num_threads: int = 1,
    trial_cpus: float = 1.0,
    actor_class: Any = None,
) -> StudyOutcome:
    """Run (or resume) a study until it has ``n_trials`` finished trials, times out, is stopped, or exhausts its grid.

    When it returns, no trial of the study is RUNNING and no trial actor is left.

    Args:
        spec: The study.
        storage: Optuna's storage (``trainforge.hpo.optuna_storage.open_storage``).
        data_ref: The study's :class:`~trainforge.hpo.study_data.StudyData` in Ray's object store.
        listener: Told about every trial; asked whether to stop.
        num_threads: LightGBM threads per trial (fewer on small data).
        trial_cpus: Ray CPUs each trial actor reserves.
        actor_class: The Ray actor class that runs trials (default :data:`TrialActor`; tests pass one that fails
            on purpose).

    Raises:
        FeatureSetNotFound, InvalidInput, InsufficientData: Preparing the study's data failed (the error of the
            task behind ``data_ref``, raised when the first trial actor cannot start).
        PipelineError: :data:`MAX_FAILURES_IN_A_ROW` trials failed in a row, or trial actors cannot start.
        DatabaseUnavailable: The storage's database stopped answering.
        optuna.exceptions.StorageInternalError: The storage failed otherwise.
    """
    actor_class = actor_class or TrialActor
    with optuna_storage_errors():
        return _Coordinator(spec, storage, data_ref, listener, num_threads, trial_cpus, actor_class).run()


@dataclass
class _Running:
    """A trial in flight on one actor."""

    trial: optuna.Trial
    record: TrialRecord
    slot: int
    stream: Any  # ray.ObjectRefGenerator
    attempt: int
    sampled: dict[str, Any]
    prune_requested: bool = False


class _Coordinator:
    def __init__(
        self,
        spec: StudySpec,
        storage: RDBStorage,
        data_ref: ray.ObjectRef,
        listener: StudyListener,
        num_threads: int,
        trial_cpus: float,
        actor_class: Any,
    ) -> None:
        self.spec = spec
        self.storage = storage
        self.data_ref = data_ref
        self.listener = listener
        self.num_threads = num_threads
        self.trial_cpus = trial_cpus
        self.actor_class = actor_class
        # Optuna reads running trials back from the database again and again; this coordinator is the study's only
        # writer, so it reads them from memory instead (see SingleWriterStorage) and writes through.
        self.mirror = SingleWriterStorage(storage)
        self.study = optuna.create_study(
            storage=self.mirror,
            study_name=optuna_study_name(spec.study_id),
            sampler=make_sampler(spec.strategy, spec.space, spec.seed),
            pruner=_make_pruner(spec.pruner, spec.report_every),
            direction="minimize",
            load_if_exists=True,
        )
        self.distributions = spec.space.distributions()
        self.grid_size = spec.space.grid_size() if spec.strategy == "grid" else None
        self.heartbeat_seconds = storage.get_heartbeat_interval()
        self.pruning = spec.pruner != "none"
        self.counts = {state.name: 0 for state in _FINISHED}
        self.best: TrialRecord | None = None
        self.running: list[_Running] = []
        self.actors: list[Any] = []
        self.busy: list[bool] = []
        self.grid_seen: set[tuple] = set()  # parameter points asked so far (grid search only)
        self.waiting = 0  # retries enqueued and not yet asked for
        self.failures_in_a_row = 0
        self.last_heartbeat = time.monotonic()

    # -- the study's life ----------------------------------------------------------------------------------
    def run(self) -> StudyOutcome:
        deadline = self._deadline()
        self._resume()
        reason = None
        try:
            reason = self._loop(deadline)
        finally:
            # Whatever ended the loop (an error included), no trial stays RUNNING and no actor keeps computing.
            self._abandon_running(reason or "error")
            for actor in self.actors:
                ray.kill(actor, no_restart=True)
        return StudyOutcome(best=self.best, counts=dict(self.counts), reason=reason)

    def _deadline(self) -> float | None:
        started_at = self.study.user_attrs.get(STARTED_AT_ATTR)
        if started_at is None:
            started_at = time.time()
            self.study.set_user_attr(STARTED_AT_ATTR, started_at)
            self.study.set_user_attr("search_space", self.spec.space.as_json())
            self.study.set_user_attr("optimization_strategy", self.spec.strategy)
        if self.spec.timeout_seconds is None:
            return None
        return float(started_at) + self.spec.timeout_seconds

    def _resume(self) -> None:
        """Count what earlier runs finished and tell the listener, then fail and retry the trials a dead coordinator
        left RUNNING."""
        trials = self.study.get_trials(deepcopy=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Only acts when the storage has a heartbeat; ours fails every RUNNING trial below in any case.
            optuna.storages.fail_stale_trials(self.study)
        finished: list[FrozenTrial] = []
        for trial in trials:
            if trial.state in _FINISHED:
                finished.append(trial)
                self.counts[trial.state.name] += 1
                if trial.state == TrialState.COMPLETE and (self.best is None or trial.value < self.best.value):
                    self.best = self._record_of(trial)
            elif trial.state == TrialState.WAITING:
                self.waiting += 1
            if self.grid_size is not None and self._has_every_param(trial.params):
                self.grid_seen.add(_point(trial.params))
        # A coordinator killed between telling Optuna and telling the listener left the listener behind (by one
        # trial, or by a batch if it writes in batches): it hears of every finished trial again.
        if finished:
            self.listener.trials_resumed([self._record_of(trial) for trial in finished], self.best, dict(self.counts))
        for trial in trials:
            if trial.state == TrialState.RUNNING:
                self._fail_stale(trial)

    def _fail_stale(self, trial: FrozenTrial) -> None:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # fail_stale_trials got there first
            self.mirror.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        error = "the coordinator running this trial stopped (worker died or was restarted); the study resumed"
        self.counts[TrialState.FAIL.name] += 1
        now = datetime.now(UTC)
        record = self._record_of(trial)
        record.state, record.error, record.datetime_complete = TrialState.FAIL.name, error, now
        record.duration_seconds = (now - record.datetime_start).total_seconds()
        self.listener.trial_finished(record, self.best, dict(self.counts))
        if self._has_every_param(trial.params):  # a trial killed half-way through ask() had not started
            self._retry(trial.number, trial.params, int(trial.user_attrs.get(ATTEMPT_ATTR, 1)))

    def _loop(self, deadline: float | None) -> str:
        next_poll = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_poll:
                if self.listener.should_stop():
                    return "stopped"
                next_poll = now + POLL_SECONDS
            if deadline is not None and time.time() >= deadline:
                return "timeout"
            self._beat_heart()
            self._fill()
            if not self.running:
                return "finished" if self._done() >= self.spec.n_trials else "grid_exhausted"
            wait = next_poll - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.time())
            if self.heartbeat_seconds:
                wait = min(wait, self.last_heartbeat + self.heartbeat_seconds - time.monotonic())
            ready, _ = ray.wait([entry.stream for entry in self.running], num_returns=1, timeout=max(0.0, wait))
            for stream in ready:
                self._advance(next(entry for entry in self.running if entry.stream is stream))

    def _done(self) -> int:
        return self.counts[TrialState.COMPLETE.name] + self.counts[TrialState.PRUNED.name]

    def _fill(self) -> None:
        """Start trials until ``parallel_jobs`` run, or enough run to reach ``n_trials``, or the grid is used up."""
        while len(self.running) < self.spec.parallel_jobs and self._done() + len(self.running) < self.spec.n_trials:
            if self.grid_size is not None and self.waiting == 0 and len(self.grid_seen) >= self.grid_size:
                return  # every grid point asked; asking again would repeat one (GridSampler re-evaluates)
            self._start(self._idle_slot())

    def _idle_slot(self) -> int:
        for slot, busy in enumerate(self.busy):
            if not busy:
                return slot
        self.actors.append(self._new_actor())
        self.busy.append(False)
        return len(self.actors) - 1

    def _new_actor(self) -> Any:
        return self.actor_class.options(num_cpus=self.trial_cpus).remote(self.data_ref, self.num_threads)

    # -- one trial -----------------------------------------------------------------------------------------
    def _start(self, slot: int) -> None:
        with self._quiet_heartbeat_warning(), self.mirror.creating_trials():
            trial = self.study.ask(fixed_distributions=self.distributions)
        sampled = trial.params
        user_attrs = trial.user_attrs
        if RETRY_OF_ATTR in user_attrs:
            self.waiting = max(0, self.waiting - 1)
        if self.grid_size is not None:
            self.grid_seen.add(_point(sampled))
        stream = self.actors[slot].run.remote(
            trial.number, self.spec.space.hyperparams(sampled), self.spec.report_every
        )
        self.busy[slot] = True
        record = TrialRecord(
            number=trial.number,
            state=TrialState.RUNNING.name,
            value=None,
            params={**self.spec.space.fixed, **sampled},
            rmse=None,
            datetime_start=_utc(trial.datetime_start),
            datetime_complete=None,
            duration_seconds=None,
            best_iteration=None,
            error=None,
        )
        self.running.append(_Running(trial, record, slot, stream, int(user_attrs.get(ATTEMPT_ATTR, 1)), sampled))
        self.listener.trial_started(record)

    def _advance(self, entry: _Running) -> None:
        """Handle the next event of a trial whose stream has one ready."""
        try:
            item = ray.get(next(entry.stream))
        except StopIteration:
            self._fail(entry, "the trial's Ray work ended without a result")
            return
        except ray.exceptions.RayTaskError as error:  # the trial raised: the actor itself is fine
            cause = error.cause if isinstance(error.cause, BaseException) else error
            self._fail(entry, f"{type(cause).__name__}: {cause}")
            return
        except ray.exceptions.RayActorError as error:
            if error.actor_init_failed:  # no trial can run: the study's data could not be prepared or loaded
                raise _creation_error(error) from None
            # The actor died in the trial (killed, out of memory, node lost).
            self._fail(entry, f"the trial's Ray actor was lost: {type(error).__name__}: {error}", actor_lost=True)
            return
        except ray.exceptions.RayError as error:  # e.g. the trial's result was lost with its node
            self._fail(entry, f"the trial's Ray work failed: {type(error).__name__}: {error}", actor_lost=True)
            return
        kind = item[0]
        if kind == "report":
            self._report(entry, int(item[1]), float(item[2]))
        elif kind == "pruned":
            self._finish(entry, TrialState.PRUNED)
        elif kind == "done":
            self._complete(entry, item[1])
        else:  # pragma: no cover - a TrialActor that does not keep its contract
            self._fail(entry, f"unknown trial event {kind!r}")

    def _report(self, entry: _Running, step: int, value: float) -> None:
        if entry.prune_requested or not math.isfinite(value):
            return  # the actor stops at its next round; a NaN says nothing to the pruner
        entry.trial.report(value, step)
        entry.record.intermediate[step] = value
        if self.pruning and entry.trial.should_prune():
            entry.prune_requested = True
            self.actors[entry.slot].prune.remote(entry.record.number)

    def _complete(self, entry: _Running, result: Mapping[str, Any]) -> None:
        value = float(result["value"])
        if not math.isfinite(value):
            self._fail(entry, f"the validation MAE is not a finite number ({value})")
            return
        rmse, best_iteration = float(result["rmse"]), int(result["best_iteration"])
        entry.trial.set_user_attr("rmse", rmse)
        entry.trial.set_user_attr("best_iteration", best_iteration)
        self._finish(entry, TrialState.COMPLETE, value=value, rmse=rmse, best_iteration=best_iteration)

    def _fail(self, entry: _Running, error: str, *, actor_lost: bool = False) -> None:
        error = error[:_MAX_ERROR_CHARS]
        logger.warning("study %s: trial %d failed: %s", self.spec.study_id, entry.record.number, error)
        entry.trial.set_user_attr(ERROR_ATTR, error)
        if actor_lost:
            # Replace the actor (the next trial on this slot builds its dataset again); kill the old one in case
            # it is only unreachable, so that it stops computing.
            ray.kill(self.actors[entry.slot], no_restart=True)
            self.actors[entry.slot] = self._new_actor()
        self._finish(entry, TrialState.FAIL, error=error)
        self._retry(entry.record.number, entry.sampled, entry.attempt)
        if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            raise PipelineError(f"{self.failures_in_a_row} trials failed in a row; the last: {error}")

    def _finish(
        self,
        entry: _Running,
        state: TrialState,
        *,
        value: float | None = None,
        rmse: float | None = None,
        best_iteration: int | None = None,
        error: str | None = None,
    ) -> None:
        """Tell Optuna how the trial ended, free its actor, and tell the listener."""
        self._tell(entry.trial, value if state == TrialState.COMPLETE else None, state)
        self.running.remove(entry)
        self.busy[entry.slot] = False
        record = entry.record
        if state == TrialState.PRUNED and record.intermediate:
            value = record.intermediate[max(record.intermediate)]  # what Optuna records for a pruned trial
        now = datetime.now(UTC)
        record.state, record.value, record.rmse = state.name, value, rmse
        record.best_iteration, record.error = best_iteration, error
        record.datetime_complete = now
        record.duration_seconds = (now - record.datetime_start).total_seconds()
        self.counts[state.name] += 1
        if state == TrialState.FAIL:
            self.failures_in_a_row += 1
        else:
            self.failures_in_a_row = 0
        if state == TrialState.COMPLETE and (self.best is None or record.value < self.best.value):
            self.best = record
        self.listener.trial_finished(record, self.best, dict(self.counts))

    def _tell(self, trial: optuna.Trial, value: float | None, state: TrialState) -> None:
        try:
            self.study.tell(trial, value, state=state)
        except RuntimeError as error:
            # GridSampler.after_trial calls study.stop() once the grid is used up, which raises outside
            # study.optimize(). tell() has stored the trial's state by then (it writes in a `finally`), and the
            # coordinator stops on its own when the grid is used up.
            if not isinstance(self.study.sampler, optuna.samplers.GridSampler):
                raise
            logger.debug("GridSampler could not stop the study from tell(): %s", error)

    def _retry(self, number: int, sampled: Mapping[str, Any], attempt: int) -> None:
        """Enqueue a failed trial's parameters again, if it has retries left."""
        if attempt > self.spec.max_trial_retries:
            return
        self.study.enqueue_trial(dict(sampled), user_attrs={RETRY_OF_ATTR: number, ATTEMPT_ATTR: attempt + 1})
        self.waiting += 1

    def _abandon_running(self, reason: str) -> None:
        """Fail the trials still running when the study ends; retry them if the study may resume."""
        for entry in list(self.running):
            error = {
                "timeout": "the study's timeout ended the trial",
                "stopped": "the study was stopped (job cancelled or worker shutting down)",
            }.get(reason, "the study's coordinator failed")
            try:
                entry.trial.set_user_attr(ERROR_ATTR, error)
                self._finish(entry, TrialState.FAIL, error=error)
                if reason != "timeout":  # a stopped study may be resumed: it re-runs what was cut short
                    self._retry(entry.record.number, entry.sampled, entry.attempt)
            except Exception:  # cleaning up after an error: record what can be recorded, never mask the error
                logger.exception("study %s: could not fail trial %d", self.spec.study_id, entry.record.number)

    def _beat_heart(self) -> None:
        if not self.heartbeat_seconds or time.monotonic() - self.last_heartbeat < self.heartbeat_seconds:
            return
        self.last_heartbeat = time.monotonic()
        for entry in self.running:
            self.mirror.record_heartbeat(entry.trial._trial_id)

    @contextlib.contextmanager
    def _quiet_heartbeat_warning(self) -> Iterator[None]:
        """Silence Optuna's "heartbeat is supposed to be used with Study.optimize": we record heartbeats here."""
        if not self.heartbeat_seconds:
            yield
            return
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            yield

    # -- helpers -------------------------------------------------------------------------------------------
    def _has_every_param(self, params: Mapping[str, Any]) -> bool:
        return all(name in params for name in self.distributions)

    def _record_of(self, trial: FrozenTrial) -> TrialRecord:
        start = _utc(trial.datetime_start)
        complete = _utc(trial.datetime_complete) if trial.datetime_complete else None
        return TrialRecord(
            number=trial.number,
            state=trial.state.name,
            value=trial.value,
            params={**self.spec.space.fixed, **trial.params},
            rmse=trial.user_attrs.get("rmse"),
            datetime_start=start,
            datetime_complete=complete,
            duration_seconds=(complete - start).total_seconds() if complete else None,
            best_iteration=trial.user_attrs.get("best_iteration"),
            error=trial.user_attrs.get(ERROR_ATTR),
            intermediate=dict(trial.intermediate_values),
        )


def _creation_error(error: ray.exceptions.RayActorError) -> Exception:
    """What a trial actor that could not start says: the error of the task that prepared its data, if that is it
    (the pipeline's own InvalidInput, InsufficientData, FeatureSetNotFound), else a PipelineError."""
    task_error = error.args[0] if error.args else None
    if isinstance(task_error, ray.exceptions.RayTaskError) and isinstance(task_error.cause, Exception):
        cause = task_error.cause
        return cause if isinstance(cause, TrainforgeError) else PipelineError(f"{type(cause).__name__}: {cause}")
    return PipelineError(f"the study's trial actors could not start: {error}")


def _make_pruner(name: str, report_every: int) -> optuna.pruners.BasePruner:
    if name == "median":
        # Judge a trial once 5 others have completed, and from its second report on: after the first few rounds
        # every trial is still close to where boosting starts, and a low learning rate looks worse than it is.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2 * report_every)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; expected median, successive_halving or none")


def _point(params: Mapping[str, Any]) -> tuple:
    return tuple(sorted(params.items()))


def _utc(value: datetime | None) -> datetime:
    # Optuna stamps trials with naive local time (datetime.now()); astimezone() reads a naive value as local.
    assert value is not None  # a trial that has started has a start time
    return value.astimezone(UTC)
