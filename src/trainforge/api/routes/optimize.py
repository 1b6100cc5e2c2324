"""Hyperparameter optimisation: start, inspect, list and cancel studies, and page through their trials
(``/ai/training/optimize``). A study runs as a training job, so it is also in ``GET /ai/training/jobs``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from trainforge.api.deps import FeatureStoreDep, JobStoreDep, PrincipalDep, StudyStoreDep
from trainforge.api.paging import Page, PageQueryDep, page_query
from trainforge.api.responses import COMMON, FORBIDDEN, conflict, not_found
from trainforge.api.schemas import JOBS_PREFIX, ErrorBody
from trainforge.hpo.records import StudyRecord, TrialRow, TrialState
from trainforge.jobs.status import JobStatus
from trainforge.names import TENANT_PATTERN
from trainforge.submission import OptimizeRequest, submit_study

OPTIMIZE_PREFIX = "/ai/training/optimize"


class StudyAccepted(BaseModel):
    study_id: UUID
    study_name: str
    job_id: UUID = Field(description="The training job that runs the study (and then fits the best trial).")
    status: JobStatus = Field(description="The study's status: its job's.")
    n_trials: int
    created_at: datetime


class BestTrialBody(BaseModel):
    trial_id: int = Field(description="The trial's number in the study.")
    value: float | None = Field(description="Validation MAE (lower is better).")
    params: dict[str, Any] = Field(description="The searched hyperparameters of the trial.")
    rmse: float | None = Field(description="Validation RMSE at the same boosting iteration.")


class StudyDetail(BaseModel):
    study_id: UUID
    study_name: str
    tenant_id: str
    job_id: UUID = Field(description="The training job that runs the study.")
    model_type: str
    model_name: str = Field(description="Registered model name of the best trial's fit.")
    feature_set: str
    status: JobStatus = Field(description="The study's status: its job's (queued, running, completed, ...).")
    optimization_strategy: str
    pruner: str = Field(description="Stops unpromising trials early: median, successive_halving or none.")
    search_space: dict[str, Any] = Field(description="The checked space: ranges searched, numbers fixed.")
    n_trials_total: int = Field(description="Trials to finish (complete or pruned).")
    n_trials_completed: int
    n_trials_pruned: int
    n_trials_failed: int
    parallel_jobs: int
    timeout_seconds: float | None
    seed: int | None
    best_trial: BestTrialBody | None = Field(description="The best complete trial so far; null before the first.")
    model_id: str | None = Field(description="The registered model of the best trial's fit, once the job completed.")
    error_message: str | None = Field(description="Why the study's job failed, if it did.")
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    trials_url: str
    job_url: str

    @classmethod
    def of(cls, study: StudyRecord) -> StudyDetail:
        fields = {name: getattr(study, name) for name in cls.model_fields if hasattr(study, name)}
        best = study.best
        return cls.model_validate(
            fields
            | {
                "n_trials_total": study.n_trials,
                "best_trial": None
                if best is None
                else {"trial_id": best.number, "value": best.value, "params": best.params, "rmse": best.rmse},
                "trials_url": f"{OPTIMIZE_PREFIX}/{study.study_id}/trials",
                "job_url": f"{JOBS_PREFIX}/{study.job_id}",
            }
        )


class StudyList(Page):
    studies: list[StudyDetail]


class TrialEntry(BaseModel):
    trial_id: int = Field(description="The trial's number in the study (Optuna's trial number).")
    state: TrialState
    value: float | None = Field(
        description="Validation MAE: at the best round of a complete trial, the last reported of a pruned one; null "
        "while running or after a failure."
    )
    rmse: float | None = Field(description="Validation RMSE at the best round (complete trials only).")
    params: dict[str, Any]
    datetime_start: datetime
    datetime_complete: datetime | None
    duration_seconds: float | None
    error: str | None = Field(description="Why a failed trial failed.")

    @classmethod
    def of(cls, trial: TrialRow) -> TrialEntry:
        fields = {name: getattr(trial, name) for name in cls.model_fields if hasattr(trial, name)}
        return cls.model_validate(fields | {"trial_id": trial.number})


class TrialList(Page):
    study_id: UUID
    trials: list[TrialEntry]


class StudyCancelled(BaseModel):
    study_id: UUID
    job_id: UUID
    status: JobStatus
    message: str


router = APIRouter(
    prefix=OPTIMIZE_PREFIX,
    tags=["hyperparameter optimisation"],
    responses=COMMON,
)
NOT_FOUND = not_found("study")
TrialPageDep = page_query(max_size=1000)  # a study has up to 10,000 trials: allow bigger pages of them
NAME_TAKEN = {409: {"model": ErrorBody, "description": "The tenant already has a study of this name."}}


@router.post(
    "/start", status_code=status.HTTP_202_ACCEPTED, response_model=StudyAccepted, responses=FORBIDDEN | NAME_TAKEN
)
def start_study(
    request: OptimizeRequest,
    jobs: JobStoreDep,
    studies: StudyStoreDep,
    features: FeatureStoreDep,
    principal: PrincipalDep,
) -> StudyAccepted:
    """Queue a study for ``tenant_id`` (the key's own tenant, unless it is an admin key): a training job that runs
    ``n_trials`` trials of ``search_space``, ``parallel_jobs`` at a time, then fits and registers the best one. The
    space, the feature set and the columns are checked now; a bad one is a 422 naming the field."""
    principal.act_for(request.tenant_id)
    job, study = submit_study(request, jobs=jobs, studies=studies, features=features, created_by=principal.key_id)
    return StudyAccepted(
        study_id=study.study_id,
        study_name=study.study_name,
        job_id=job.job_id,
        status=study.status,
        n_trials=study.n_trials,
        created_at=study.created_at,
    )


@router.get("", response_model=StudyList, responses=FORBIDDEN)
def list_studies(
    studies: StudyStoreDep,
    principal: PrincipalDep,
    paging: PageQueryDep,
    tenant_id: Annotated[str | None, Query(pattern=TENANT_PATTERN.pattern, description="Default: the key's.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only studies whose job has this status.")] = None,
) -> StudyList:
    """Studies, newest first, one page at a time (``page``, ``page_size`` or its alias ``limit``). An admin key
    without ``tenant_id`` lists every tenant's."""
    tenant = principal.act_for(tenant_id)
    records, total = studies.list(tenant_id=tenant, status=status, page=paging.page, page_size=paging.page_size)
    return StudyList(studies=[StudyDetail.of(r) for r in records], **paging.answer(total))


@router.get("/{study_id}", response_model=StudyDetail, responses=NOT_FOUND)
def get_study(study_id: UUID, studies: StudyStoreDep, principal: PrincipalDep) -> StudyDetail:
    """Status, trial counts and the best trial so far (one indexed row, however many trials the study has)."""
    return StudyDetail.of(studies.get(study_id, tenant_id=principal.tenant_scope))


@router.get("/{study_id}/trials", response_model=TrialList, responses=NOT_FOUND)
def list_trials(
    study_id: UUID,
    studies: StudyStoreDep,
    principal: PrincipalDep,
    paging: TrialPageDep,
    state: Annotated[TrialState | None, Query(description="Only trials in this state.")] = None,
) -> TrialList:
    """The study's trials in trial order, one page at a time (``page``, ``page_size`` up to 1000 or its alias
    ``limit``), and how many match ``state`` in all."""
    rows, total = studies.list_trials(
        study_id, tenant_id=principal.tenant_scope, state=state, page=paging.page, page_size=paging.page_size
    )
    return TrialList(study_id=study_id, trials=[TrialEntry.of(row) for row in rows], **paging.answer(total))


@router.post("/{study_id}/cancel", response_model=StudyCancelled, responses={**NOT_FOUND, **conflict("study")})
def cancel_study(study_id: UUID, jobs: JobStoreDep, studies: StudyStoreDep, principal: PrincipalDep) -> StudyCancelled:
    """Cancel a queued or running study by cancelling its job (409 once it has ended). Running trials are
    stopped by the job's worker within seconds; the trials that finished stay."""
    study = studies.get(study_id, tenant_id=principal.tenant_scope)
    job = jobs.transition(
        study.job_id,
        JobStatus.CANCELLED,
        reason=f"study {study.study_name} cancelled by key {principal.key_id}",
        tenant_id=principal.tenant_scope,
    )
    return StudyCancelled(study_id=study.study_id, job_id=job.job_id, status=job.status, message="Study cancelled")
