"""MLflow experiments and runs of training jobs: one experiment per model, one run per job.

A job finds its run again by its ``job_id`` tag, so a job retried after its worker died logs into the run it
started instead of leaving a second one behind. Everything is logged through the explicit client except the model
itself (see :mod:`trainforge.tracking.mlflow_backend` for why).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from matplotlib.figure import Figure
from mlflow.entities import LifecycleStage, Metric, Param, Run, RunStatus, ViewType
from mlflow.exceptions import MlflowException

from trainforge.errors import PipelineError
from trainforge.models import forecaster as forecaster_module
from trainforge.models.forecaster import Forecaster, model_signature
from trainforge.tracking.mlflow_backend import MlflowBackend
from trainforge.tracking.plots import close_figure

__all__ = ["TrainingRuns", "require_loggable"]

MODEL_ARTIFACT_NAME = "model"
_BATCH_METRICS = 1000


class TrainingRuns:
    """Experiments and runs on one MLflow backend. Callers translate errors with ``mlflow_errors``."""

    def __init__(self, backend: MlflowBackend) -> None:
        self._backend = backend
        self._client = backend.client

    def ensure_experiment(self, name: str, location_parts: Sequence[str]) -> str:
        """Return the id of experiment ``name``, creating it under the artifact root if it does not exist.

        The artifact location is always explicit: left to MLflow, a SQL backend puts artifacts in ``./mlruns`` of
        whatever directory the process happens to run in. A deleted (not purged) experiment is restored.
        """
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            location = self._backend.artifact_location(*location_parts)
            try:
                return self._client.create_experiment(name, artifact_location=location)
            except MlflowException as error:
                # Another worker created it between our lookup and our insert.
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = self._client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == LifecycleStage.DELETED:
            self._client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id

    def find_job_run(self, experiment_id: str, job_id: str) -> Run | None:
        """The run a job started earlier (the oldest, if a race left two), or ``None``."""
        runs = self._client.search_runs(
            [experiment_id],
            filter_string=f"tags.job_id = '{job_id}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1,
            order_by=["attributes.start_time ASC"],
        )
        return runs[0] if runs else None

    def start_job_run(self, experiment_id: str, job_id: str, tags: Mapping[str, str]) -> Run:
        """Create the run of a job, named after it."""
        return self._client.create_run(experiment_id, tags=dict(tags), run_name=f"job-{job_id}")

    def params_conflict(self, run: Run, params: Mapping[str, str]) -> bool:
        """Whether ``run`` already holds a parameter with a different value (MLflow forbids changing one)."""
        logged = run.data.params
        return any(name in logged and logged[name] != value for name, value in params.items())

    def retire_job_run(self, run: Run, job_id: str) -> None:
        """Take a job's tag off an old run that cannot be reused, so the job's next lookup finds its new run."""
        self._client.set_tag(run.info.run_id, "superseded_job_id", job_id)
        self._client.delete_tag(run.info.run_id, "job_id")
        self._client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))

    def log_values(
        self,
        run_id: str,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        *,
        model_id: str | None = None,
        step_metrics: Mapping[str, Mapping[int, float]] | None = None,
    ) -> None:
        """Log parameters and metrics in ``log_batch`` calls (a metric loop costs ~40x more on SQL backends).

        Args:
            run_id: The run.
            params: Parameter values (MLflow refuses to change one already logged).
            metrics: Metric values, logged at step 0.
            model_id: The LoggedModel the metrics describe; MLflow then lists them on the model as well.
            step_metrics: Metric histories {name: {step: value}} (per-lead errors), charted by step in MLflow.
        """
        timestamp = int(time.time() * 1000)
        entries = [Metric(name, value, timestamp, 0, model_id=model_id) for name, value in metrics.items()]
        for name, history in (step_metrics or {}).items():
            entries += [Metric(name, value, timestamp, step, model_id=model_id) for step, value in history.items()]
        # MLflow takes at most 1000 metrics per batch.
        for start in range(0, max(len(entries), 1), _BATCH_METRICS):
            self._client.log_batch(
                run_id,
                metrics=entries[start : start + _BATCH_METRICS],
                params=[Param(name, value) for name, value in params.items()] if start == 0 else [],
            )

    def log_figure(self, run_id: str, figure: Figure, artifact_file: str) -> None:
        """Log a figure as a PNG artifact, then free it."""
        try:
            self._client.log_figure(run_id, figure, artifact_file)
        finally:
            close_figure(figure)

    def log_table(self, run_id: str, table: pd.DataFrame, artifact_file: str) -> None:
        """Log a data frame as a Parquet artifact (typed and compact; the test split can be large)."""
        with tempfile.TemporaryDirectory(prefix="trainforge-artifact-") as directory:
            target = PurePosixPath(artifact_file)
            path = Path(directory) / target.name
            table.to_parquet(path, index=False)
            folder = str(target.parent)
            self._client.log_artifact(run_id, str(path), artifact_path=None if folder == "." else folder)

    def log_model(
        self, run_id: str, model: Forecaster, *, pip_requirements: Sequence[str], params: Mapping[str, str]
    ) -> str:
        """Log a fitted forecaster on the run as an MLflow ``pyfunc`` model and return its LoggedModel id (``m-…``).

        The model is logged "from code": its code is :mod:`trainforge.models.forecaster` itself, copied beside the
        booster and the feature spec, so it loads and forecasts from raw history with MLflow, LightGBM, pandas and
        ``holidays`` alone. ``pip_requirements`` is explicit: inferring it imports the model in a subprocess (~4 s).

        Log the model *before* the run's metrics and pass them to :meth:`log_values` with its id: ``log_model``
        otherwise re-inserts every metric already on the run to link it to the model, which on PostgreSQL fails a
        primary key that MLflow then recovers from (and psycopg logs a warning about).

        Raises:
            PipelineError: ``model`` is not a forecaster.
        """
        require_loggable(model)
        with tempfile.TemporaryDirectory(prefix="trainforge-model-") as directory:
            artifacts = model.save(directory)
            with self._backend.global_state(), mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(
                    name=MODEL_ARTIFACT_NAME,
                    python_model=forecaster_module.__file__,
                    artifacts=artifacts,
                    signature=model_signature(model.spec),
                    input_example=model.example,
                    pip_requirements=list(pip_requirements),
                    params=dict(params),
                )
        return info.model_id

    def finish(self, run_id: str, *, failed: bool = False) -> None:
        """Mark the run finished, or failed (logging a model through the fluent API reopens it)."""
        status = RunStatus.FAILED if failed else RunStatus.FINISHED
        self._client.set_terminated(run_id, RunStatus.to_string(status))


def require_loggable(model: Any) -> None:
    """Refuse, before anything is written, a model this module cannot log.

    Raises:
        PipelineError: ``model`` is not a :class:`~trainforge.models.forecaster.Forecaster`.
    """
    if not isinstance(model, Forecaster):
        raise PipelineError(f"cannot log a {type(model).__name__}: only forecasters are registered as models")
