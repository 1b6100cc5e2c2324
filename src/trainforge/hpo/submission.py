"""Checking a study request, then queueing its job and creating the study in one transaction.

Two ways in: ``POST /ai/training/optimize/start`` (:func:`submit_study`) and a training job with
``config.enable_hpo`` (:func:`trainforge.jobs.submission.submit_job`, which checks the space with
:func:`check_job_search_space` and queues through :func:`enqueue_with_study`). Either way the job's config carries
the checked space (``hyperparams``) and the tuning settings, and the study row mirrors them.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from trainforge.db.engine import write_transaction
from trainforge.errors import InvalidInput
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.records import NewStudy, StudyRecord
from trainforge.hpo.request import TUNING_CONFIG_FIELDS, OptimizeRequest
from trainforge.hpo.space import parse_search_space
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import JobRecord, NewJob
from trainforge.jobs.request import JobRequest
from trainforge.jobs.store import JobStore
from trainforge.jobs.submission import prepare_job
from trainforge.names import NAME_PATTERN
from trainforge.pipeline.config import TrainingConfig

_NAME_MAX = 128
_SUFFIX = 9  # "-" and 8 hex digits of the job id


def submit_study(
    request: OptimizeRequest,
    *,
    jobs: JobStore,
    studies: StudyStore,
    features: ParquetFeatureStore,
    created_by: str | None = None,
) -> tuple[JobRecord, StudyRecord]:
    """Check ``request`` (its search space against the model family, its data against the feature store), then
    queue its job and create the study, together.

    Raises:
        InvalidInput: the request cannot be tuned or trained (field named in the error: ``search_space.<name>``,
            ``optimization_strategy``, ``config.<field>``, ``feature_set``, ...).
        StudyNameTaken: the tenant already has a study of this name (nothing is queued).
    """
    for name, instead in TUNING_CONFIG_FIELDS.items():
        if name in request.config.model_fields_set:
            fix = f"give {instead} at the top level of the body" if instead else "a study always tunes; leave it out"
            raise InvalidInput(f"config.{name} is not taken by a study request: {fix}", field=f"config.{name}")
    space = parse_search_space(
        request.model_type, request.search_space, strategy=request.optimization_strategy, field_prefix="search_space"
    )
    config = request.config.model_copy(
        update={
            "enable_hpo": True,
            "hyperparams": space.as_json(),
            "n_trials": request.n_trials,
            "optimization_strategy": request.optimization_strategy,
            "parallel_jobs": request.parallel_jobs,
            "timeout_seconds": request.timeout_seconds,
            "hpo_seed": request.seed,
        }
    )
    # Every field was validated above with the same rules as a job request's, so it is built without validation.
    job_request = JobRequest.model_construct(
        tenant_id=request.tenant_id,
        model_type=request.model_type,
        model_name=request.job_model_name,
        feature_set=request.feature_set,
        config=config,
        schedule=None,
        priority=request.priority,
        tags=None,
    )
    job = prepare_job(job_request, features=features, created_by=created_by)
    return enqueue_with_study(
        job, jobs=jobs, studies=studies, study_name=request.study_name, reason=f"study {request.study_name} submitted"
    )


def check_job_search_space(model_type: str, config: TrainingConfig) -> dict:
    """The search space of a job with ``enable_hpo`` (its ``config.hyperparams``), checked and normalised.

    Raises:
        InvalidInput: naming ``config.hyperparams.<name>``, ``config.hyperparams`` or ``config.optimization_strategy``.
    """
    try:
        space = parse_search_space(
            model_type, config.hyperparams, strategy=config.optimization_strategy, field_prefix="config.hyperparams"
        )
    except InvalidInput as error:
        if error.field == "optimization_strategy":  # located in the body's "config" object
            raise InvalidInput(error.message, field="config.optimization_strategy") from None
        raise
    return space.as_json()


def enqueue_with_study(
    job: NewJob,
    *,
    jobs: JobStore,
    studies: StudyStore,
    study_name: str | None = None,
    reason: str = "submitted",
    now: datetime | None = None,
) -> tuple[JobRecord, StudyRecord]:
    """Queue a checked job with ``enable_hpo`` and create its study in the same transaction.

    The job is tagged with the study's ``study_id``. Without ``study_name`` the study is named
    ``<model_name>-<first 8 hex digits of the job id>``.

    Raises:
        StudyNameTaken: the tenant already has a study of this name (nothing is written).
    """
    with write_transaction(jobs.engine) as conn:
        return enqueue_with_study_in(
            conn, job, jobs=jobs, studies=studies, study_name=study_name, reason=reason, now=now
        )


def enqueue_with_study_in(
    conn: Connection,
    job: NewJob,
    *,
    jobs: JobStore,
    studies: StudyStore,
    study_name: str | None = None,
    reason: str = "submitted",
    now: datetime | None = None,
) -> tuple[JobRecord, StudyRecord]:
    """:func:`enqueue_with_study` inside a transaction the caller holds (a schedule's firing, for one).

    Raises:
        StudyNameTaken: the tenant already has a study of this name (the caller's transaction must roll back).
    """
    study_id = uuid.uuid4()
    job = replace(job, tags={**(job.tags or {}), "study_id": str(study_id)})
    record = jobs.enqueue_in(conn, job, reason=reason, now=now)
    name = study_name or default_study_name(record.model_name, record.job_id)
    study = studies.create_in(conn, NewStudy.for_job(record, study_name=name, study_id=study_id), now=now)
    return record, study


def enqueue_job_in(
    conn: Connection, job: NewJob, *, jobs: JobStore, reason: str, now: datetime | None = None
) -> JobRecord:
    """Queue a checked job in the caller's transaction, and create its study too when it tunes (``enable_hpo``).

    Schedules queue their jobs through here, so a recurring job with ``enable_hpo`` gets a study at every firing.
    """
    if job.config.get("enable_hpo"):
        return enqueue_with_study_in(conn, job, jobs=jobs, studies=StudyStore(jobs.engine), reason=reason, now=now)[0]
    return jobs.enqueue_in(conn, job, reason=reason, now=now)


def default_study_name(model_name: str, job_id: UUID) -> str:
    """``<model_name>-<first 8 hex digits of job_id>``, the model name shortened to keep it a valid name."""
    name = f"{model_name[: _NAME_MAX - _SUFFIX]}-{job_id.hex[:8]}"
    assert NAME_PATTERN.fullmatch(name)  # a valid model name plus "-" and hex digits is one
    return name
