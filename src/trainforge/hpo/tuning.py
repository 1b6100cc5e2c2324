"""The tune step of a ``tune`` job: run (or resume) its study, then hand the best parameters to the fit.

The ``tune`` kind (:mod:`trainforge.kinds._tune`) runs :func:`tune` before the train steps. The study's coordinator
runs here, in the worker's thread, and its trials run on Ray (see :mod:`trainforge.hpo.coordinator`). While it runs,
every finished trial is written to the study's mirror table (what ``GET /optimize/{id}/trials`` reads), to the
job's progress and live metrics (``current_trial``, ``total_trials``, ``best_mae``, ``best_rmse``), to its logs, and
as a child run in MLflow. The listener (:mod:`trainforge.hpo.study_listener`) writes those in batched
transactions, renews the job's lease, and stops the study when the job is cancelled or the worker drains.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import optuna
import ray

from trainforge.errors import IllegalTransition, PipelineError
from trainforge.hpo._study_runs import StudyRuns
from trainforge.hpo.coordinator import StudyOutcome, StudySpec, TrialRecord, run_study
from trainforge.hpo.optuna_storage import open_storage, optuna_study_name
from trainforge.hpo.records import StudyRecord
from trainforge.hpo.space import SearchSpace, parse_search_space
from trainforge.hpo.store import StudyStore
from trainforge.hpo.study_data import prepare_study_data
from trainforge.hpo.study_listener import TUNE_PROGRESS, JobStudyListener
from trainforge.jobs.records import JobRecord
from trainforge.jobs.run import JobRun, WorkerDraining
from trainforge.jobs.status import JobStatus
from trainforge.models.families import validate_hyperparams
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.request import PipelineRequest
from trainforge.settings import Settings
from trainforge.tracking.mlflow_backend import MlflowBackend
from trainforge.tracking.study_plots import optimisation_history, param_importances

__all__ = ["TUNE_PROGRESS", "TuningOutcome", "tune"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningOutcome:
    """What the fit needs from the study.

    Attributes:
        study: The study (its id goes into the model's lineage).
        hyperparams: Every hyperparameter of the family: the best trial's, the space's fixed ones, the defaults.
        best: The best trial.
        outcome: How the study ended.
    """

    study: StudyRecord
    hyperparams: dict[str, Any]
    best: TrialRecord
    outcome: StudyOutcome


def tune(
    run: JobRun,
    request: PipelineRequest,
    *,
    study_store: StudyStore,
    backend: MlflowBackend | None,
) -> TuningOutcome:
    """Run or resume the job's study and return the best hyperparameters.

    Args:
        run: The claimed job (a ``tune`` job: its config has ``enable_hpo``), on the worker holding its lease.
        request: The pipeline request the study's data is prepared from (its config is the job's).
        study_store: The study and its trials' mirror.
        backend: MLflow, for the parent and child runs (None: no tracking, e.g. in tests of the step alone).

    Raises:
        IllegalTransition: The job was cancelled while its study ran (the study is stopped first).
        WorkerDraining: The worker is draining; the study was stopped and can resume on another worker.
        PipelineError: No trial completed, or too many failed in a row.
        InvalidInput: The stored search space no longer parses (a model family changed since submission).
    """
    job, settings, config = run.job, run.settings, request.config
    tuning = config.tuning
    run.flush()  # the study writes its own lines: this job's earlier ones go first
    study = study_store.get_by_job(job.job_id)
    if study is None:
        raise PipelineError(f"job {job.job_id} has enable_hpo but no study: submit it again")
    space = parse_search_space(
        config.model_family,
        config.hyperparams,
        strategy=tuning.optimization_strategy,
        field_prefix="config.hyperparams",
    )
    spec = StudySpec(
        study_id=study.study_id,
        space=space,
        strategy=tuning.optimization_strategy,
        seed=tuning.seed,
        n_trials=tuning.n_trials,
        parallel_jobs=tuning.parallel_jobs,
        timeout_seconds=tuning.timeout_seconds,
        pruner=tuning.pruner,
    )
    storage = open_storage(settings.resolved_optuna_storage_url)
    lines = [
        (
            "INFO",
            "tune",
            f"Study {study.study_name!r} ({study.study_id}): {tuning.n_trials} trials of "
            f"{tuning.optimization_strategy} with the {tuning.pruner} pruner, {tuning.parallel_jobs} at a time, "
            f"over {', '.join(space.searched)}; Optuna study {optuna_study_name(study.study_id)!r}",
        )
    ]
    earlier = study.n_trials_completed + study.n_trials_pruned
    if earlier:  # a retried job: its study is its checkpoint
        lines.append(
            (
                "INFO",
                "tune",
                f"Resuming the study from Optuna's storage: {earlier} of {study.n_trials} trials "
                "finished in an earlier attempt are kept",
            )
        )
    run.store.append_logs(job.job_id, lines)
    study_store.set_status(study.study_id, JobStatus.RUNNING)
    data_ref = prepare_study_data.options(num_cpus=settings.job_cpus).remote(request)
    runs = _study_runs(backend, job, study, config)
    listener = JobStudyListener(
        job=job,
        study=study,
        job_store=run.store,
        study_store=study_store,
        runs=runs,
        worker_id=run.worker_id,
        lease_seconds=settings.lease_seconds,
        draining=run.drain_overdue,
    )
    threads, trial_cpus = _trial_resources(settings, tuning.parallel_jobs)
    try:
        outcome = run_study(spec, storage, data_ref, listener, num_threads=threads, trial_cpus=trial_cpus)
    except BaseException:
        listener.flush_after_error()
        if runs is not None:
            runs.close()
        raise
    finally:
        del data_ref  # the prepared rows leave Ray's object store once the study no longer holds them
    listener.flush()  # the listener writes in batches: the last trials may still wait
    # The status column is the tuning's own record (the API reads the job's status, which also covers the fit).
    if listener.cancelled:
        final = JobStatus.CANCELLED
    elif listener.drained:
        final = JobStatus.QUEUED
    else:
        final = JobStatus.COMPLETED if outcome.best is not None else JobStatus.FAILED
    study_store.update_progress(study.study_id, outcome.best, outcome.counts, status=final)
    if listener.cancelled:
        _close_runs(runs, storage, study, outcome, failed=True)
        raise IllegalTransition(job.job_id, JobStatus.CANCELLED.value, JobStatus.RUNNING.value)
    if listener.drained:
        if runs is not None:
            runs.close()
        raise WorkerDraining
    _close_runs(runs, storage, study, outcome, failed=outcome.best is None)
    if outcome.best is None:
        raise PipelineError(
            f"the study ended ({outcome.reason}) with no completed trial: {outcome.counts.get('FAIL', 0)} failed, "
            f"{outcome.counts.get('PRUNED', 0)} pruned"
        )
    best = outcome.best
    run.store.append_logs(
        job.job_id,
        [
            (
                "INFO",
                "tune",
                f"Study ended ({outcome.reason}): {_counts(outcome.counts)}; best trial {best.number} "
                f"with validation MAE {best.value:.4g}: {best.params}",
            )
        ],
    )
    hyperparams = validate_hyperparams(config.model_family, _best_hyperparams(space, best))
    return TuningOutcome(study=study, hyperparams=hyperparams, best=best, outcome=outcome)


def _best_hyperparams(space: SearchSpace, best: TrialRecord) -> dict[str, Any]:
    return space.hyperparams({name: best.params[name] for name in space.searched if name in best.params})


def _trial_resources(settings: Settings, parallel_jobs: int) -> tuple[int, float]:
    """LightGBM threads and Ray CPUs per trial: the job's share of the machine split between its parallel trials.

    Every trial actor reserves a fraction of the job's CPUs, so a study never waits on its own actors for Ray
    resources, and the threads add up to the training threads a job is given.
    """
    threads = max(1, (settings.train_threads or ray.available_resources().get("CPU", 1) or 1) // parallel_jobs)
    return int(threads), settings.job_cpus / parallel_jobs


def _study_runs(backend: MlflowBackend | None, job: JobRecord, study: StudyRecord, config: TrainingConfig):
    if backend is None:
        return None
    try:
        return StudyRuns(
            backend,
            tenant_id=job.tenant_id,
            model_name=job.model_name,
            study_id=str(study.study_id),
            tags={
                "job_id": str(job.job_id),
                "study_name": study.study_name,
                "optimization_strategy": config.tuning.optimization_strategy,
            },
        )
    except Exception:  # tracking is a record of the study, never a reason to fail it
        logger.exception("study %s: MLflow tracking is off for this run", study.study_id)
        return None


def _close_runs(runs: StudyRuns | None, storage, study: StudyRecord, outcome: StudyOutcome, *, failed: bool) -> None:
    """Finish the parent run with the study's summary, its history plot and its parameter-importance plot."""
    if runs is None:
        return
    try:
        trials = optuna.load_study(study_name=optuna_study_name(study.study_id), storage=storage).trials
        figures = [
            (
                optimisation_history(
                    [t.number for t in trials],
                    [t.value for t in trials],
                    [t.state.name for t in trials],
                ),
                "plots/optimisation_history.png",
            ),
            (param_importances(_importances(trials)), "plots/param_importances.png"),
        ]
        metrics = {f"trials_{state.lower()}": float(n) for state, n in outcome.counts.items()}
        if outcome.best is not None and outcome.best.value is not None:
            metrics["best_val_mae"] = float(outcome.best.value)
            if outcome.best.rmse is not None:
                metrics["best_val_rmse"] = float(outcome.best.rmse)
        params = {"n_trials": str(study.n_trials), "strategy": study.optimization_strategy, "end": outcome.reason}
        if outcome.best is not None:
            params |= {"best_trial": str(outcome.best.number)}
        runs.finish(params=params, metrics=metrics, figures=figures, failed=failed)
    except Exception:  # as above: a study's tracking never fails its job
        logger.exception("study %s: could not finish its MLflow run", study.study_id)
        runs.close()


def _importances(trials: list[optuna.trial.FrozenTrial]) -> dict[str, float]:
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    study = optuna.create_study()  # in memory: the importance evaluator wants a study, not a list of trials
    study.add_trials(complete)
    try:
        return optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):  # e.g. every trial has the same parameters
        return {}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items())) or "no trial"
