"""Training jobs: start, inspect, list, cancel, retry, logs (``/ai/training/jobs``)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from trainforge.api.deps import FeatureStoreDep, JobStoreDep
from trainforge.api.schemas import (
    JOBS_PREFIX,
    ErrorBody,
    JobAccepted,
    JobCancelled,
    JobDetail,
    JobList,
    JobLogs,
    JobSummary,
    LogEntry,
)
from trainforge.jobs.request import JobRequest
from trainforge.jobs.status import JobStatus
from trainforge.jobs.submission import submit_job

router = APIRouter(
    prefix=JOBS_PREFIX,
    tags=["training jobs"],
    responses={422: {"model": ErrorBody, "description": "Invalid input; `field` names the culprit."}},
)
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such job."}}
CONFLICT = {409: {"model": ErrorBody, "description": "The job's status does not allow this."}}


@router.post("/start", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
def start_job(request: JobRequest, store: JobStoreDep, features: FeatureStoreDep) -> JobAccepted:
    """Queue a training job. It runs when a worker claims it (highest priority first, then oldest)."""
    job = submit_job(request, store=store, features=features)
    estimate = store.typical_duration(tenant_id=job.tenant_id, model_type=job.model_type, feature_set=job.feature_set)
    return JobAccepted(
        job_id=job.job_id,
        status=job.status,
        created_at=job.created_at,
        estimated_duration_seconds=estimate,
        message="Training job queued successfully",
    )


@router.get("/{job_id}", response_model=JobDetail, responses=NOT_FOUND)
def get_job(job_id: UUID, store: JobStoreDep) -> JobDetail:
    """Status, progress, current step, live metrics and (when done) the registered ``model_id``."""
    return JobDetail.of(store.get(job_id))


@router.get("", response_model=JobList)
def list_jobs(
    store: JobStoreDep,
    tenant_id: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> JobList:
    """Jobs, newest first, filtered by tenant and status, one page at a time."""
    records, total = store.list(tenant_id=tenant_id, status=status, limit=limit, page=page)
    return JobList(jobs=[JobSummary.of(r) for r in records], total=total, page=page, page_size=limit)


@router.delete("/{job_id}", response_model=JobCancelled, responses={**NOT_FOUND, **CONFLICT})
def cancel_job(job_id: UUID, store: JobStoreDep) -> JobCancelled:
    """Cancel a queued or running job. A running job's Ray work is stopped by its worker within seconds."""
    job = store.transition(job_id, JobStatus.CANCELLED, reason="cancelled by user")
    return JobCancelled(job_id=job.job_id, status=job.status, message="Training job cancelled successfully")


@router.post("/{job_id}/retry", response_model=JobDetail, responses={**NOT_FOUND, **CONFLICT})
def retry_job(job_id: UUID, store: JobStoreDep) -> JobDetail:
    """Put a failed job back in the queue with its original configuration."""
    return JobDetail.of(store.transition(job_id, JobStatus.QUEUED, reason="retried by user"))


@router.get("/{job_id}/logs", response_model=JobLogs, responses=NOT_FOUND)
def job_logs(
    job_id: UUID,
    store: JobStoreDep,
    tail: Annotated[int | None, Query(ge=1, le=10_000, description="Only the last N lines.")] = None,
    since: Annotated[int, Query(ge=0, description="Only lines after this log_id (for following a job).")] = 0,
) -> JobLogs:
    """The job's log: state changes, each pipeline step's messages, and tracebacks of failures."""
    lines, total = store.logs(job_id, tail=tail, after_id=since)
    return JobLogs(job_id=job_id, logs=[LogEntry.of(line) for line in lines], total_lines=total)
