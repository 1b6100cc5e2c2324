"""Response bodies of the training API (request bodies live in ``trainforge.submission``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from trainforge.api.paging import Page
from trainforge.jobs.records import JobRecord, LogLine
from trainforge.jobs.status import JobStatus

JOBS_PREFIX = "/ai/training/jobs"


class ErrorBody(BaseModel):
    error: str = Field(description="Kind of error: invalid_input, not_found, conflict, unavailable, internal.")
    message: str
    field: str | None = Field(description="The request field at fault, as a dotted path, when there is one.")
    details: list[dict[str, Any]] | None = None
    error_id: str | None = None


class JobAccepted(BaseModel):
    job_id: UUID
    kind: str = Field(description="What the job does: train, or tune (enable_hpo: a study, then the fit).")
    status: JobStatus
    created_at: datetime
    estimated_duration_seconds: float | None = Field(
        description="Median duration of this tenant's latest similar jobs; null without history."
    )
    message: str
    # With a `schedule` in the request: the job above is the first run; the schedule queues the next ones.
    schedule_id: UUID | None = Field(default=None, description="The schedule the request created, if any.")
    next_run_at: datetime | None = Field(default=None, description="When that schedule next queues the job (UTC).")


class JobDetail(BaseModel):
    job_id: UUID
    tenant_id: str
    model_type: str
    model_name: str
    feature_set: str
    kind: str = Field(
        description="What the job does: train (fit, evaluate, register) or tune (a study, then the same)."
    )
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    current_step: str | None = Field(description="Pipeline step running now: load, prepare, fit, evaluate, register.")
    priority: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    completed_at: datetime | None
    duration_seconds: float | None
    config: dict[str, Any]
    metrics: dict[str, Any] | None
    error_message: str | None
    model_id: str | None
    logs_url: str
    schedule: str | None = Field(default=None, description="Cron of the schedule that queued the job, if one did.")
    tags: dict[str, Any] | None = Field(
        default=None,
        description="Labels; a scheduled job's include schedule_id, schedule_name, scheduled_for; an HPO study's job "
        "includes study_id.",
    )

    @classmethod
    def of(cls, job: JobRecord) -> JobDetail:
        fields = {name: getattr(job, name) for name in cls.model_fields if hasattr(job, name)}
        return cls.model_validate(
            fields
            | {
                "config": {
                    "model_type": job.model_type,
                    "feature_set": job.feature_set,
                    **job.config,
                    # The specification's shape shows a tuning job's trial count beside enable_hpo.
                    **({"n_trials": job.config["tuning"]["n_trials"]} if job.config.get("enable_hpo") else {}),
                },
                "logs_url": f"{JOBS_PREFIX}/{job.job_id}/logs",
            }
        )


class JobSummary(BaseModel):
    job_id: UUID
    tenant_id: str
    model_type: str
    model_name: str
    kind: str
    status: JobStatus
    progress: float
    created_at: datetime
    completed_at: datetime | None
    duration_seconds: float | None
    metrics: dict[str, Any] | None
    model_id: str | None
    schedule: str | None = Field(default=None, description="Cron of the schedule that queued the job, if one did.")
    tags: dict[str, Any] | None = Field(
        default=None,
        description="Labels; a scheduled job's include schedule_id, schedule_name, scheduled_for; an HPO study's job "
        "includes study_id.",
    )

    @classmethod
    def of(cls, job: JobRecord) -> JobSummary:
        return cls.model_validate(job, from_attributes=True)


class JobList(Page):
    jobs: list[JobSummary]


class JobCancelled(BaseModel):
    job_id: UUID
    status: JobStatus
    message: str


class LogEntry(BaseModel):
    log_id: int
    timestamp: datetime
    level: str
    step: str | None
    message: str

    @classmethod
    def of(cls, line: LogLine) -> LogEntry:
        return cls.model_validate(line, from_attributes=True)


class JobLogs(BaseModel):
    job_id: UUID
    logs: list[LogEntry]
    total_lines: int


class Health(BaseModel):
    status: str
    database: str
    schema_revision: str | None


MODELS_PREFIX = "/ai/models"


class ForecastRow(BaseModel):
    series_id: str = Field(description="The series forecast.")
    origin: datetime = Field(description="The series' last history timestamp: the forecast starts after it (UTC).")
    timestamp: datetime = Field(description="The time forecast: `step` steps after `origin` (UTC).")
    step: int = Field(ge=1, description="Steps ahead of the origin, from 1 to the response's `horizon`.")
    value: float | None = Field(description="The point forecast of the model.")
    quantiles: dict[str, float | None] = Field(
        description='One value per requested quantile, keyed by the quantile as written (`{"0.1": 380.2}`); empty '
        "without `quantiles` in the request."
    )


class HistoryPoint(BaseModel):
    series_id: str = Field(description="The series.")
    timestamp: datetime = Field(description="When (UTC).")
    value: float | None = Field(description="The target's value then (null where it was missing).")


class PredictResponse(BaseModel):
    model_id: str = Field(description="The version that forecast: `{tenant}:{model_name}:{semver}`.")
    forecast_origin: datetime | None = Field(
        description="The latest origin of any series (UTC); each row carries its series' own `origin`."
    )
    horizon: int = Field(description="Steps forecast per series.")
    quantiles: list[float] = Field(description="The quantiles each row carries, as requested.")
    unseen_series: list[str] = Field(
        description="Series the model was not trained on. They are forecast all the same, from their own history "
        "and level with the series treated as unknown to the model: expect them to be less accurate."
    )
    forecasts: list[ForecastRow] = Field(description="One row per series and step, by series, then step.")
    history: list[HistoryPoint] | None = Field(
        default=None,
        description="With `include_history`: the target's values the forecast started from, per series.",
    )
