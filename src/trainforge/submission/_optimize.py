"""Checking a study request (``POST /ai/training/optimize/start``), then queueing its ``tune`` job with its study."""

from __future__ import annotations

from trainforge.errors import InvalidInput
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.records import StudyRecord
from trainforge.hpo.space import parse_search_space
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import JobRecord
from trainforge.jobs.store import JobStore
from trainforge.models.families import get_family
from trainforge.pipeline.config import TrainingConfig, TuningConfig
from trainforge.submission._job_request import JobRequest
from trainforge.submission._jobs import prepare_job
from trainforge.submission._studies import enqueue_with_study
from trainforge.submission._study_request import OptimizeRequest

__all__ = ["submit_study"]


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
    family = get_family(request.config.model_family)
    if not family.fits_model:
        raise InvalidInput(
            f"model family {family.name} fits nothing, so a study has nothing to tune", field="config.model_family"
        )
    space = parse_search_space(
        family.name,
        request.search_space,
        strategy=request.optimization_strategy,
        field_prefix="search_space",
    )
    tuning = TuningConfig.model_validate(request.model_dump(include=set(TuningConfig.model_fields)))
    config = TrainingConfig.model_validate(
        {**request.config.model_dump(), "enable_hpo": True, "hyperparams": space.as_json(), "tuning": tuning}
    )
    job_request = JobRequest(
        tenant_id=request.tenant_id,
        model_type=request.model_type,
        model_name=request.job_model_name,
        feature_set=request.feature_set,
        config=config,
        priority=request.priority,
    )
    job = prepare_job(job_request, features=features, created_by=created_by)
    return enqueue_with_study(
        job, jobs=jobs, studies=studies, study_name=request.study_name, reason=f"study {request.study_name} submitted"
    )
