"""The values that cross the registry's boundary: who asks to register (a job) and what comes back (a version)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trainforge.errors import InvalidInput
from trainforge.names import check_name, check_tenant
from trainforge.registry._versioning import SemVer, VersionFacts
from trainforge.tracking.naming import experiment_name

__all__ = ["JobIdentity", "RegisteredVersion", "registered_model_name"]

# Job ids end up inside MLflow filter strings ("tags.job_id = '…'"): no quotes, no spaces.
_JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def registered_model_name(tenant_id: str, model_name: str) -> str:
    """MLflow registered-model name ``"{tenant}.{model_name}"`` (tenants carry no dots, so it splits back)."""
    return f"{tenant_id}.{model_name}"


@dataclass(frozen=True)
class JobIdentity:
    """The training job a result belongs to: what the registry needs beyond the :class:`PipelineResult`.

    Attributes:
        job_id: The job's id; registering the same job again returns the version it already made.
        tenant_id: Owner of the model.
        model_name: Name of the model within the tenant (``"load"``).
        model_type: ``"forecast"`` or ``"anomaly"``.
        feature_set: The feature set the job trained on.
        config: The job's ``TrainingConfig`` as a JSON-ready dict (``config.model_dump(mode="json")``).
        study_id: The Optuna study that chose the hyperparameters, if the job tuned them.
        best_trial: That study's trial whose hyperparameters the model was fitted with.
    """

    job_id: str
    tenant_id: str
    model_name: str
    model_type: str
    feature_set: str
    config: Mapping[str, Any] = field(default_factory=dict)
    study_id: str | None = None
    best_trial: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.job_id, str) or not _JOB_ID_PATTERN.fullmatch(self.job_id):
            raise InvalidInput("job_id must be 1-128 characters: letters, digits, '_', '.', ':' or '-'", field="job_id")
        check_tenant(self.tenant_id)
        check_name(self.model_name, "model_name")
        check_name(self.feature_set, "feature_set")
        check_name(self.model_type, "model_type")

    @property
    def registered_model_name(self) -> str:
        return registered_model_name(self.tenant_id, self.model_name)

    @property
    def experiment_name(self) -> str:
        return experiment_name(self.tenant_id, self.model_name)


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a model in the registry, with where it came from.

    Attributes:
        model_id: ``"{tenant}:{model_name}:{semver}"``.
        semver: The semantic version.
        tenant_id: Owner of the model.
        model_name: Name of the model within the tenant.
        mlflow_model_name: The MLflow registered model (``"{tenant}.{model_name}"``).
        mlflow_version: MLflow's version number under that name (1, 2, …; not the semver).
        run_id: The MLflow run of the training job.
        experiment_id: The MLflow experiment of that run.
        job_id: The training job that produced it.
        logged_model_id: MLflow's LoggedModel id (``m-…``) holding the model files.
        created_at: When the version was registered (UTC).
        facts: The facts its version was derived from (family, feature set and schema, data, hyperparameters).
        tags: Every tag of the MLflow model version: the full lineage (row count, package versions, code version…).
    """

    model_id: str
    semver: SemVer
    tenant_id: str
    model_name: str
    mlflow_model_name: str
    mlflow_version: int
    run_id: str
    experiment_id: str
    job_id: str
    logged_model_id: str | None
    created_at: datetime
    facts: VersionFacts
    tags: Mapping[str, str]

    @property
    def model_uri(self) -> str:
        """MLflow URI of the model files (``models:/t1.load/3``), for ``mlflow.pyfunc.load_model`` and serving."""
        return f"models:/{self.mlflow_model_name}/{self.mlflow_version}"
