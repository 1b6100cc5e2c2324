"""Plain records that the study store takes and returns (no SQLAlchemy objects leak out of the store)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from trainforge.jobs.records import JobRecord
from trainforge.jobs.status import JobStatus


class TrialState(StrEnum):
    """A trial's state, as Optuna names it (a WAITING trial is not mirrored: it has not started)."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"


@dataclass(frozen=True)
class NewStudy:
    """What it takes to create a study: the study of one training job (``config.enable_hpo``)."""

    tenant_id: str
    study_name: str
    job_id: UUID
    model_type: str
    feature_set: str
    search_space: dict[str, Any]
    optimization_strategy: str
    n_trials: int
    parallel_jobs: int
    timeout_seconds: float | None = None
    seed: int | None = None
    study_id: UUID = field(default_factory=uuid.uuid4)

    @classmethod
    def for_job(cls, job: JobRecord, *, study_name: str, study_id: UUID | None = None) -> NewStudy:
        """The study a job runs, read from the job's checked configuration (so the two never disagree)."""
        config, tuning = job.config, job.config["tuning"]
        return cls(
            tenant_id=job.tenant_id,
            study_name=study_name,
            job_id=job.job_id,
            model_type=job.model_type,
            feature_set=job.feature_set,
            search_space=config["hyperparams"],
            optimization_strategy=tuning["optimization_strategy"],
            n_trials=tuning["n_trials"],
            parallel_jobs=tuning["parallel_jobs"],
            timeout_seconds=tuning.get("timeout_seconds"),
            seed=tuning.get("seed"),
            study_id=study_id or uuid.uuid4(),
        )


@dataclass(frozen=True)
class BestTrial:
    """The best finished trial so far (lowest validation MAE)."""

    number: int
    value: float | None
    params: dict[str, Any]
    rmse: float | None


@dataclass(frozen=True)
class StudyRecord:
    """A study and, read from its job in the same query, the status it follows.

    ``status``, ``completed_at``, ``model_name``, ``model_id``, ``error_message`` and ``pruner`` (its config's
    tuning) are the job's; ``updated_at`` is the later of the study's and the job's last change.
    """

    study_id: UUID
    tenant_id: str
    study_name: str
    job_id: UUID
    model_type: str
    model_name: str
    feature_set: str
    search_space: dict[str, Any]
    optimization_strategy: str
    n_trials: int
    parallel_jobs: int
    timeout_seconds: float | None
    seed: int | None
    status: JobStatus
    n_trials_completed: int
    n_trials_pruned: int
    n_trials_failed: int
    best: BestTrial | None
    model_id: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    pruner: str = "median"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StudyRecord:
        """From a row of the store's study query (``hpo_studies`` joined with its job's ``job_*`` columns)."""
        status = JobStatus(row["job_status"])
        best = None
        if row["best_trial_number"] is not None:
            best = BestTrial(row["best_trial_number"], row["best_value"], row["best_params"] or {}, row["best_rmse"])
        return cls(
            study_id=row["study_id"],
            tenant_id=row["tenant_id"],
            study_name=row["study_name"],
            job_id=row["job_id"],
            model_type=row["model_type"],
            model_name=row["job_model_name"],
            feature_set=row["feature_set"],
            search_space=row["search_space"],
            optimization_strategy=row["optimization_strategy"],
            n_trials=row["n_trials"],
            parallel_jobs=row["parallel_jobs"],
            timeout_seconds=row["timeout_seconds"],
            seed=row["seed"],
            status=status,
            n_trials_completed=row["n_trials_completed"],
            n_trials_pruned=row["n_trials_pruned"],
            n_trials_failed=row["n_trials_failed"],
            best=best,
            model_id=row["job_model_id"],
            error_message=row["job_error_message"],
            created_at=row["created_at"],
            updated_at=max(row["updated_at"], row["job_updated_at"]),
            # A failed job that was retried keeps its old completed_at until claimed again: not "completed" then.
            completed_at=row["job_completed_at"] if status.is_terminal else None,
            pruner=((row.get("job_config") or {}).get("tuning") or {}).get("pruner", "median"),
        )


@dataclass(frozen=True)
class TrialRow:
    """One trial of a study, as mirrored from Optuna (``number`` is Optuna's trial number)."""

    study_id: UUID
    number: int
    state: TrialState
    value: float | None
    rmse: float | None
    params: dict[str, Any]
    datetime_start: datetime
    datetime_complete: datetime | None
    duration_seconds: float | None
    error: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TrialRow:
        return cls(
            study_id=row["study_id"],
            number=row["trial_number"],
            state=TrialState(row["state"]),
            value=row["value"],
            rmse=row["rmse"],
            params=row["params"],
            datetime_start=row["datetime_start"],
            datetime_complete=row["datetime_complete"],
            duration_seconds=row["duration_seconds"],
            error=row["error"],
        )


@dataclass
class TrialRecord:
    """One trial as listeners and the mirror table see it.

    Attributes:
        number: Optuna's trial number.
        state: ``RUNNING``, ``COMPLETE``, ``PRUNED`` or ``FAIL``.
        value: Validation MAE in the target's units (at the best round); for a pruned trial, its last reported
            value (as Optuna records it); None while running or after a failure.
        params: The trial's hyperparameters as a job would give them: the sampled ones plus the space's fixed
            ones (the family's defaults fill in the rest, see ``SearchSpace.hyperparams``).
        rmse: Validation RMSE at the best round (COMPLETE only).
        datetime_start: When the trial was created in the storage (timezone-aware, UTC).
        datetime_complete: When it finished (UTC), None while running.
        duration_seconds: ``datetime_complete - datetime_start`` in seconds.
        best_iteration: Boosting rounds of the model the trial scored (COMPLETE only).
        error: Why a FAIL trial failed.
        intermediate: Validation MAE by boosting round, as reported to the pruner.
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    rmse: float | None
    datetime_start: datetime
    datetime_complete: datetime | None
    duration_seconds: float | None
    best_iteration: int | None
    error: str | None
    intermediate: dict[int, float] = field(default_factory=dict)
