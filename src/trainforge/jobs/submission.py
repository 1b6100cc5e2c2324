"""Checking a job request against what exists, then queueing it. The API and the demo both come through here."""

from __future__ import annotations

from trainforge.errors import FeatureSetNotFound, InvalidInput
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import JobRecord, NewJob
from trainforge.jobs.request import JobRequest
from trainforge.jobs.store import JobStore
from trainforge.models.families import validate_hyperparams


def submit_job(
    request: JobRequest, *, store: JobStore, features: ParquetFeatureStore, created_by: str | None = None
) -> JobRecord:
    """Validate ``request`` against the model family and the feature store, then enqueue it.

    With ``config.enable_hpo`` the job runs an HPO study: the study (named ``<model_name>-<8 hex of the job id>``,
    see :func:`trainforge.hpo.submission.enqueue_with_study`) is created in the transaction that queues the job.

    Raises:
        InvalidInput: the request cannot be trained (field named in the error), or it carries a ``schedule``: that
            is :func:`trainforge.schedules.start_recurring_job`'s, which ``POST /jobs/start`` calls instead.
    """
    if request.schedule is not None:
        raise InvalidInput("submit_job queues one job; a schedule is made by start_recurring_job", field="schedule")
    job = prepare_job(request, features=features, created_by=created_by)
    if request.config.enable_hpo:
        from trainforge.hpo.submission import enqueue_with_study  # imported here: it imports this module

        record, _study = enqueue_with_study(job, jobs=store, studies=StudyStore(store.engine))
        return record
    return store.enqueue(job)


def prepare_job(request: JobRequest, *, features: ParquetFeatureStore, created_by: str | None = None) -> NewJob:
    """Check ``request`` against the model family and the feature store; return the job to enqueue.

    Checks that need no training are done here so that a bad request is refused at once (a 4xx naming the field)
    instead of failing minutes later in a worker. Job submissions and schedules both come through here. The
    request's ``schedule`` is not looked at.

    Raises:
        InvalidInput: the request cannot be trained (field named in the error).
    """
    if request.config.enable_hpo:  # hyperparams is a search space: checked and stored normalised
        from trainforge.hpo.submission import check_job_search_space  # imported here: it imports this module

        hyperparams = check_job_search_space(request.model_type, request.config)
    elif request.config.model_family == "seasonal_naive":
        hyperparams = {}  # nothing is fitted; TrainingConfig refuses hyperparameters for it
    else:
        hyperparams = validate_hyperparams(request.model_type, request.config.hyperparams)
    try:
        info = features.info(request.tenant_id, request.feature_set)
    except FeatureSetNotFound as missing:
        raise InvalidInput(missing.message, field="feature_set") from None
    config = request.config
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
        config=stored_config,
        priority=request.priority_value,
        created_by=created_by,
        tags=request.tags,
    )
