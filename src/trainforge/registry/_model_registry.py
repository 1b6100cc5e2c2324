"""The model registry: turn a finished training job into a numbered, traceable model version, and find it again.

Storage is MLflow (tracking + registry on a SQL backend or a tracking server). A job's result becomes:

* a run in the experiment ``"{tenant}/{model_name}"`` (parameters, metrics, a forecast-vs-actual plot, the test
  predictions and the model files), and
* a version of the registered model ``"{tenant}.{model_name}"`` whose tags are its lineage, its ``semver`` and its
  ``model_id`` (``"{tenant}:{model_name}:{semver}"``).

Registering is idempotent per job: a job registered again (retried after its worker died) gets back the version it
already made, and reuses its run. Versions are numbered *after* they are created, from the newest older version
(:meth:`ModelRegistry._ensure_numbered`): MLflow assigns version numbers atomically, so two jobs of one model
registering at once still get distinct, ordered semvers, and a version whose worker died before numbering it is
numbered by whoever reads the chain next. MLflow errors leave this class as ``trainforge.errors``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from types import MappingProxyType

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel

from trainforge.errors import InvalidInput, ModelVersionNotFound, TrainforgeError
from trainforge.names import check_name, check_tenant
from trainforge.pipeline.result import PipelineResult
from trainforge.registry._lineage import (
    JOB_ID_TAG,
    LOGGED_MODEL_TAG,
    MODEL_ID_TAG,
    SEMVER_TAG,
    facts_from_tags,
    has_facts,
    is_numbered,
    run_metrics,
    run_params,
    run_step_metrics,
    run_tags,
    version_tags,
)
from trainforge.registry._provenance import package_versions
from trainforge.registry._records import JobIdentity, RegisteredVersion, registered_model_name
from trainforge.registry._versioning import (
    SemVer,
    VersionFacts,
    format_model_id,
    next_version,
    parse_model_id,
)
from trainforge.settings import Settings
from trainforge.tracking.mlflow_backend import MlflowBackend
from trainforge.tracking.mlflow_errors import mlflow_errors
from trainforge.tracking.mlflow_runs import TrainingRuns, require_loggable
from trainforge.tracking.plots import error_by_step, forecast_vs_actual

__all__ = ["ModelRegistry"]

PLOT_ARTIFACT = "plots/forecast_vs_actual.png"
STEP_PLOT_ARTIFACT = "plots/mae_by_step.png"
PREDICTIONS_ARTIFACT = "predictions/test_predictions.parquet"
_PAGE_SIZE = 1000


class ModelRegistry:
    """Register, list, look up and load model versions on one MLflow backend.

    Thread-safe as far as MLflow's client is; the few calls that need MLflow's process-global tracking URI are
    serialised by :class:`~trainforge.tracking.mlflow_backend.MlflowBackend`.

    Args:
        tracking_uri: MLflow tracking/registry URI. On PostgreSQL, MLflow needs its own database or schema: it keeps
            its schema version in ``alembic_version``, as trainforge does.
        artifact_root: Directory or URI under which each model's experiment keeps its artifacts.
    """

    def __init__(self, tracking_uri: str, artifact_root: str) -> None:
        self._backend = MlflowBackend(tracking_uri, artifact_root)
        self._client = self._backend.client
        self._runs = TrainingRuns(self._backend)

    @property
    def backend(self) -> MlflowBackend:
        """The MLflow backend (a tuning study logs its runs in the same experiments)."""
        return self._backend

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        """The registry the service is configured for (``TRAINFORGE_MLFLOW_TRACKING_URI``, ``…_ARTIFACT_ROOT``)."""
        return cls(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)

    # -- writing ---------------------------------------------------------------------------------------------------

    def register_job_result(self, job: JobIdentity, result: PipelineResult) -> RegisteredVersion:
        """Record a finished training job in MLflow and register its model as a new version.

        Args:
            job: The job the result belongs to.
            result: The pipeline's result: model, hyperparameters, metrics, lineage, test predictions.

        Returns:
            The registered version. If this job already registered one, that version, unchanged.

        Raises:
            PipelineError: the model is not a forecaster.
            InvalidInput: MLflow refused a parameter or metric name.
            SchemaOutOfDate: MLflow's database needs ``mlflow db upgrade``.
            TrainforgeError: MLflow, its database or its artifact store failed.
        """
        name = job.registered_model_name
        with mlflow_errors(f"register job {job.job_id} as a version of {name}"):
            existing = self._version_of_job(name, job.job_id)
            if existing is not None:
                return self._to_registered(existing, self._ensure_numbered(existing))
            require_loggable(result.model)  # before anything is written
            experiment_id = self._runs.ensure_experiment(job.experiment_name, (job.tenant_id, job.model_name))
            params = run_params(job, result)
            run_id = self._job_run(experiment_id, job, params)
            try:
                logged_model_id = self._log_training(run_id, result, params)
                version = self._create_version(job, result, run_id, experiment_id, logged_model_id)
            except Exception:
                # Visible as failed in the MLflow UI until a retry reopens the run; never mask the real error.
                with contextlib.suppress(Exception):
                    self._runs.finish(run_id, failed=True)
                raise
            self._runs.finish(run_id)
            return self._to_registered(version, self._ensure_numbered(version))

    def _job_run(self, experiment_id: str, job: JobIdentity, params: dict[str, str]) -> str:
        """The job's run: the one an earlier attempt started if it can be reused, else a new one."""
        run = self._runs.find_job_run(experiment_id, job.job_id)
        if run is not None and self._runs.params_conflict(run, params):
            # A retry that chose other hyperparameters cannot reuse the run: MLflow forbids changing a param.
            self._runs.retire_job_run(run, job.job_id)
            run = None
        if run is None:
            run = self._runs.start_job_run(experiment_id, job.job_id, run_tags(job))
        return run.info.run_id

    def _log_training(self, run_id: str, result: PipelineResult, params: dict[str, str]) -> str:
        """Log the model, parameters, metrics, plot and test predictions; return the LoggedModel id."""
        # The model goes first so that the metrics can name it (see TrainingRuns.log_model).
        logged_model_id = self._runs.log_model(
            run_id, result.model, pip_requirements=_pip_requirements(), params=params
        )
        self._runs.log_values(
            run_id, params, run_metrics(result), model_id=logged_model_id, step_metrics=run_step_metrics(result)
        )
        if result.test_predictions is not None:  # a pipeline run for registration always has them
            predictions = consecutive_forecasts(result.test_predictions)
            figure = forecast_vs_actual(predictions, value_label=result.lineage.target_variable)
            self._runs.log_figure(run_id, figure, PLOT_ARTIFACT)
            self._runs.log_table(run_id, predictions, PREDICTIONS_ARTIFACT)
        if result.metrics.get("per_step"):
            self._runs.log_figure(run_id, error_by_step(result.metrics["per_step"]), STEP_PLOT_ARTIFACT)
        return logged_model_id

    def _create_version(
        self, job: JobIdentity, result: PipelineResult, run_id: str, experiment_id: str, logged_model_id: str
    ) -> ModelVersion:
        name = job.registered_model_name
        self._ensure_registered_model(job)
        tags = version_tags(job, result, run_id=run_id, experiment_id=experiment_id, logged_model_id=logged_model_id)
        # The SQL registry resolves a "models:/<id>" source through the global tracking URI.
        with self._backend.global_state():
            version = self._client.create_model_version(
                name, source=f"models:/{logged_model_id}", run_id=run_id, tags=tags, model_id=logged_model_id
            )
        # Two attempts of one job racing (a lease expired while the first was still alive): the older version wins.
        first = self._version_of_job(name, job.job_id)
        if first is not None and int(first.version) < int(version.version):
            self._client.delete_model_version(name, version.version)
            return first
        return version

    def _ensure_registered_model(self, job: JobIdentity) -> None:
        # Look before creating: a failed INSERT is not free (on psycopg it aborts the connection's pipeline and
        # logs a warning), and the model exists for every version but the first.
        try:
            self._client.get_registered_model(job.registered_model_name)
            return
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            self._client.create_registered_model(
                job.registered_model_name,
                tags={"tenant_id": job.tenant_id, "model_name": job.model_name, "model_type": job.model_type},
            )
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":  # another worker created it meanwhile
                raise

    def _ensure_numbered(self, version: ModelVersion) -> dict[str, str]:
        """Give ``version`` its semver and model id if it has none yet; return its tags."""
        tags = dict(version.tags)
        if is_numbered(tags):
            return tags
        facts = _facts(version, tags)
        semver = next_version(self._previous_facts(version.name, int(version.version)), facts)
        tenant_id, model_name = version.name.split(".", 1)
        numbered = {SEMVER_TAG: str(semver), MODEL_ID_TAG: format_model_id(tenant_id, model_name, semver)}
        for key, value in numbered.items():
            self._client.set_model_version_tag(version.name, version.version, key, value)
        return tags | numbered

    def _previous_facts(self, name: str, version_number: int) -> VersionFacts | None:
        """Facts (with semver) of the newest trainforge version older than ``version_number``, or ``None``."""
        for candidate in self._search_versions(
            f"name = '{name}' AND version_number < {version_number}", order_by="version_number DESC"
        ):
            if not has_facts(candidate.tags):
                continue  # registered by hand, not by trainforge: it has no place in the semver chain
            return _facts(candidate, self._ensure_numbered(candidate))
        return None

    def withdraw_version(self, version: RegisteredVersion) -> None:
        """Delete a version whose job did not complete after all (it was cancelled while being registered), and
        mark the job's MLflow run failed. Versions are numbered after the newest one that remains, so the next
        version may take the withdrawn one's number again.

        Raises:
            TrainforgeError: MLflow or its database failed.
        """
        with mlflow_errors(f"withdraw {version.model_id}"):
            self._client.delete_model_version(version.mlflow_model_name, str(version.mlflow_version))
            if version.run_id:
                self._runs.finish(version.run_id, failed=True)

    # -- reading ---------------------------------------------------------------------------------------------------

    def get_version(self, model_id: str) -> RegisteredVersion:
        """Look up a version by model id (``"t1:load:1.0.0"``).

        Raises:
            InvalidInput: ``model_id`` is malformed (``field="model_id"``).
            ModelVersionNotFound: no such version.
        """
        parsed = parse_model_id(model_id)
        name = registered_model_name(parsed.tenant_id, parsed.model_name)
        with mlflow_errors(f"look up model {model_id}", field="model_id", not_found=ModelVersionNotFound(model_id)):
            for version in self._search_versions(
                f"name = '{name}' AND tags.{MODEL_ID_TAG} = '{parsed}'", order_by="version_number ASC"
            ):
                return self._to_registered(version, dict(version.tags))
        raise ModelVersionNotFound(model_id)

    def list_versions(self, tenant_id: str, model_name: str) -> list[RegisteredVersion]:
        """Every numbered version of a tenant's model, newest first (empty if the model does not exist).

        Raises:
            InvalidInput: the tenant id or model name is malformed.
        """
        name = registered_model_name(check_tenant(tenant_id), check_name(model_name, "model_name"))
        with mlflow_errors(f"list the versions of {name}"):
            return [
                self._to_registered(version, dict(version.tags))
                for version in self._search_versions(f"name = '{name}'", order_by="version_number DESC")
                if is_numbered(version.tags)  # a version still being numbered has no model id yet
            ]

    def load_model(self, model_id: str) -> PyFuncModel:
        """Load a version's model: an MLflow ``pyfunc`` model whose ``predict(history, params=...)`` forecasts
        (``unwrap_python_model()`` gives the :class:`~trainforge.models.forecaster.ForecastModel`).

        Raises:
            InvalidInput: ``model_id`` is malformed.
            ModelVersionNotFound: no such version.
            TrainforgeError: its files cannot be read.
        """
        version = self.get_version(model_id)
        with mlflow_errors(f"load model {model_id}", field="model_id", not_found=ModelVersionNotFound(model_id)):
            uri = self._client.get_model_version_download_uri(version.mlflow_model_name, str(version.mlflow_version))
            # Without dst_path, MLflow downloads remote artifacts (S3) into a temporary directory it never removes.
            # Artifacts proxied by a tracking server ("mlflow-artifacts:") resolve through the global tracking URI.
            with tempfile.TemporaryDirectory(prefix="trainforge-model-") as download, self._backend.global_state():
                return mlflow.pyfunc.load_model(uri, dst_path=download)

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _version_of_job(self, name: str, job_id: str) -> ModelVersion | None:
        for version in self._search_versions(
            f"name = '{name}' AND tags.{JOB_ID_TAG} = '{job_id}'", order_by="version_number ASC"
        ):
            return version
        return None

    def _search_versions(self, filter_string: str, *, order_by: str) -> Iterator[ModelVersion]:
        """Page through matching versions lazily: lookups usually stop at the first."""
        page_token = None
        while True:
            page = self._client.search_model_versions(
                filter_string, max_results=_PAGE_SIZE, order_by=[order_by], page_token=page_token
            )
            yield from page
            page_token = page.token
            if not page_token:
                return

    def _to_registered(self, version: ModelVersion, tags: dict[str, str]) -> RegisteredVersion:
        facts = _facts(version, tags)
        tenant_id, model_name = version.name.split(".", 1)
        return RegisteredVersion(
            model_id=tags[MODEL_ID_TAG],
            semver=SemVer.parse(tags[SEMVER_TAG], field=SEMVER_TAG),
            tenant_id=tenant_id,
            model_name=model_name,
            mlflow_model_name=version.name,
            mlflow_version=int(version.version),
            run_id=version.run_id or tags.get("run_id", ""),
            experiment_id=tags.get("experiment_id", ""),
            job_id=tags[JOB_ID_TAG],
            logged_model_id=version.model_id or tags.get(LOGGED_MODEL_TAG),
            created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC),
            facts=facts,
            tags=MappingProxyType(tags),
        )


def consecutive_forecasts(test_predictions: pd.DataFrame) -> pd.DataFrame:
    """The test forecasts from every ``horizon``-th origin: back to back, each time forecast once (at some lead),
    which is what a plot of forecast against actual can show and a tenth of the rows to store. Every origin's
    forecasts are in the metrics already."""
    if "origin" not in test_predictions.columns or test_predictions.empty:
        return test_predictions
    horizon = int(test_predictions["step"].max())
    origins = np.sort(test_predictions["origin"].unique())
    return test_predictions[test_predictions["origin"].isin(origins[::horizon])].reset_index(drop=True)


def _facts(version: ModelVersion, tags: dict[str, str]) -> VersionFacts:
    try:
        facts = facts_from_tags(tags)
    except (ValueError, TypeError, InvalidInput) as error:  # a tag edited by hand is our data error, not the caller's
        raise TrainforgeError(
            f"version {version.version} of {version.name} has malformed lineage tags: {error}"
        ) from error
    if facts is None:
        raise TrainforgeError(f"version {version.version} of {version.name} was not registered by trainforge")
    return facts


def _pip_requirements() -> list[str]:
    """Pinned requirements of a logged model, so MLflow need not infer them (~4 s per model)."""
    versions = package_versions()
    mlflow_distribution = "mlflow" if _is_installed("mlflow") else "mlflow-skinny"
    return [
        f"{mlflow_distribution}=={versions['mlflow']}",
        f"lightgbm=={versions['lightgbm']}",
        f"holidays=={versions['holidays']}",
        f"numpy=={versions['numpy']}",
        f"pandas=={versions['pandas']}",
    ]


def _is_installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True
