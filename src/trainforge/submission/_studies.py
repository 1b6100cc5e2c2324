"""A ``tune`` job's study: its search space checked at submission, and the study row created in the transaction
that queues the job (so there is never a job without its study, or a study without its job).

Two ways in: ``POST /ai/training/optimize/start`` (:func:`trainforge.submission._optimize.submit_study`) and a
training job with ``config.enable_hpo`` (:func:`trainforge.submission._jobs.submit_job`). Either way the job's
config carries the checked space (``hyperparams``) and the tuning (``tuning``), and the study row mirrors them.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from trainforge.db.engine import write_transaction
from trainforge.errors import InvalidInput
from trainforge.hpo.records import NewStudy, StudyRecord
from trainforge.hpo.space import parse_search_space
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import JobRecord, NewJob
from trainforge.jobs.store import JobStore
from trainforge.kinds import TUNE
from trainforge.names import NAME_PATTERN
from trainforge.pipeline.config import TrainingConfig

__all__ = [
    "check_job_search_space",
    "default_study_name",
    "enqueue_with_study",
    "enqueue_with_study_in",
]

_NAME_MAX = 128
_SUFFIX = 9  # "-" and 8 hex digits of the job id


def check_job_search_space(config: TrainingConfig) -> dict:
    """The search space of a job with ``enable_hpo`` (its ``config.hyperparams``), checked and normalised.

    Raises:
        InvalidInput: naming ``config.hyperparams.<name>``, ``config.hyperparams`` or
            ``config.tuning.optimization_strategy``.
    """
    try:
        space = parse_search_space(
            config.model_family,
            config.hyperparams,
            strategy=config.tuning.optimization_strategy,
            field_prefix="config.hyperparams",
        )
    except InvalidInput as error:
        if error.field == "optimization_strategy":  # located in the body's "config.tuning" object
            raise InvalidInput(error.message, field="config.tuning.optimization_strategy") from None
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

    The job is a ``tune`` job, tagged with the study's ``study_id``. Without ``study_name`` the study is named
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
    job = replace(job, kind=TUNE, tags={**(job.tags or {}), "study_id": str(study_id)})
    record = jobs.enqueue_in(conn, job, reason=reason, now=now)
    name = study_name or default_study_name(record.model_name, record.job_id)
    study = studies.create_in(conn, NewStudy.for_job(record, study_name=name, study_id=study_id), now=now)
    return record, study


def default_study_name(model_name: str, job_id: UUID) -> str:
    """``<model_name>-<first 8 hex digits of job_id>``, the model name shortened to keep it a valid name."""
    name = f"{model_name[: _NAME_MAX - _SUFFIX]}-{job_id.hex[:8]}"
    assert NAME_PATTERN.fullmatch(name)  # a valid model name plus "-" and hex digits is one
    return name
