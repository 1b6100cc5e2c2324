"""Checking a job request against what exists, then queueing it. The API, the CLI's demo and schedules come here.

A request becomes a :class:`~trainforge.jobs.records.NewJob` of one kind (``train``, or ``tune`` with
``config.enable_hpo``: :func:`trainforge.kinds.kind_for`); a ``tune`` job's study is created in the transaction
that queues it (:mod:`trainforge.submission._studies`).
"""

from __future__ import annotations

from sqlalchemy import Connection

from trainforge.db.engine import write_transaction
from trainforge.errors import FeatureSetNotFound, InvalidInput
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import JobRecord, NewJob
from trainforge.jobs.store import JobStore
from trainforge.kinds import TUNE, kind_for
from trainforge.models.families import family_for, validate_hyperparams
from trainforge.submission._job_request import JobRequest
from trainforge.submission._studies import check_job_search_space, enqueue_with_study_in

__all__ = ["enqueue_job_in", "prepare_job", "submit_job"]


def submit_job(
    request: JobRequest, *, store: JobStore, features: ParquetFeatureStore, created_by: str | None = None
) -> JobRecord:
    """Validate ``request`` against the model family and the feature store, then enqueue it.

    With ``config.enable_hpo`` the job is a ``tune`` job: its study (named ``<model_name>-<8 hex of the job id>``)
    is created in the transaction that queues the job.

    Raises:
        InvalidInput: the request cannot be trained (field named in the error), or it carries a ``schedule``: that
            is :func:`trainforge.schedules.start_recurring_job`'s, which ``POST /jobs/start`` calls instead.
    """
    if request.schedule is not None:
        raise InvalidInput("submit_job queues one job; a schedule is made by start_recurring_job", field="schedule")
    job = prepare_job(request, features=features, created_by=created_by)
    with write_transaction(store.engine) as conn:
        return enqueue_job_in(conn, job, jobs=store, reason="submitted")


def enqueue_job_in(conn: Connection, job: NewJob, *, jobs: JobStore, reason: str, now=None) -> JobRecord:
    """Queue a checked job in the caller's transaction, and create its study too when it is a ``tune`` job.

    Every job is queued through here (:func:`submit_job`, and a schedule's firing, so a recurring job with
    ``enable_hpo`` gets a study at every firing). The kind is read from the config: a schedule stores the config,
    not the kind.
    """
    if kind_for(job.config) == TUNE:
        return enqueue_with_study_in(conn, job, jobs=jobs, studies=StudyStore(jobs.engine), reason=reason, now=now)[0]
    return jobs.enqueue_in(conn, job, reason=reason, now=now)


def prepare_job(request: JobRequest, *, features: ParquetFeatureStore, created_by: str | None = None) -> NewJob:
    """Check ``request`` against the model family and the feature store; return the job to enqueue.

    Checks that need no training are done here so that a bad request is refused at once (a 4xx naming the field)
    instead of failing minutes later in a worker. Job submissions, studies and schedules all come through here.
    The request's ``schedule`` is not looked at.

    Raises:
        InvalidInput: the request cannot be trained (field named in the error).
    """
    config = request.config
    family = family_for(request.model_type, config.model_family)
    if config.enable_hpo:  # hyperparams is a search space: checked and stored normalised
        hyperparams = check_job_search_space(config)
    elif not family.fits_model:
        hyperparams = {}  # nothing is fitted; TrainingConfig refuses hyperparameters for it
    else:
        hyperparams = validate_hyperparams(family.name, config.hyperparams)
    try:
        info = features.info(request.tenant_id, request.feature_set)
    except FeatureSetNotFound as missing:
        raise InvalidInput(missing.message, field="feature_set") from None
    numeric = ", ".join(info.numeric_columns)
    if config.target_variable not in info.numeric_columns:
        problem = "is not numeric" if config.target_variable in info.columns else "does not exist"
        raise InvalidInput(
            f"column {config.target_variable!r} {problem} in feature set {request.feature_set!r} "
            f"(numeric columns: {numeric})",
            field="config.target_variable",
        )
    for column in config.features or []:
        if column not in info.numeric_columns:
            raise InvalidInput(
                f"covariate {column!r} is missing or not numeric in feature set {request.feature_set!r} "
                f"(numeric columns: {numeric})",
                field="config.features",
            )
    stored_config = config.model_dump(mode="json") | {"hyperparams": hyperparams}
    return NewJob(
        tenant_id=request.tenant_id,
        model_type=request.model_type,
        model_name=request.model_name,
        feature_set=request.feature_set,
        kind=kind_for(stored_config),
        config=stored_config,
        priority=request.priority_value,
        created_by=created_by,
        tags=request.tags,
    )
