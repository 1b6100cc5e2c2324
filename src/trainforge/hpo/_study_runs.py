"""MLflow runs of a tuning study: one parent run per study, one child run per finished trial.

The parent run is tagged with the study's job (``job_id``), so it is also the run the model registry finds for the
job: the final model, its metrics and its forecast plot land in the same run as the study's summary and plots, and
the MLflow UI shows the trials nested under the run that produced the registered version.

The coordinator must not wait on MLflow between trials (a run costs ~3 SQL round trips, 20-50 ms on SQLite, and a
study may have thousands of trials), so finished trials are queued and a background thread logs them in batches:
each child run is created, given all its parameters and metrics in one ``log_batch``, and terminated. A study
resumed after a crash finds its parent run by the ``study_id`` tag and skips the trials already logged under it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType

from trainforge.hpo.records import TrialRecord
from trainforge.tracking.mlflow_backend import MlflowBackend
from trainforge.tracking.mlflow_errors import mlflow_errors
from trainforge.tracking.mlflow_runs import TrainingRuns
from trainforge.tracking.naming import experiment_name

__all__ = ["StudyRuns"]

logger = logging.getLogger(__name__)

STUDY_ID_TAG = "study_id"
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests child runs under their parent
TRIAL_NUMBER_TAG = "trial_number"
# Trials logged per batch: large enough that a flush is rare, small enough that the UI trails by seconds.
_BATCH = 50
_FLUSH_SECONDS = 2.0
_STATUS = {"COMPLETE": RunStatus.FINISHED, "PRUNED": RunStatus.KILLED, "FAIL": RunStatus.FAILED}


class StudyRuns:
    """The MLflow side of one study. Use as a context manager: leaving it flushes every queued trial.

    Args:
        backend: The MLflow backend the model registry uses (the study's runs sit in the model's experiment).
        tenant_id: Owner of the study.
        model_name: The model the study tunes: its experiment holds the study's runs.
        study_id: The study's id (tagged on the parent run, so a resumed study finds it again).
        tags: More tags for the parent run (job id, study name, strategy).
    """

    def __init__(
        self, backend: MlflowBackend, *, tenant_id: str, model_name: str, study_id: str, tags: Mapping[str, str]
    ) -> None:
        self._client = backend.client
        self._runs = TrainingRuns(backend)
        self._queue: queue.Queue[TrialRecord | None] = queue.Queue()
        with mlflow_errors(f"start the MLflow run of study {study_id}"):
            self.experiment_id = self._runs.ensure_experiment(
                experiment_name(tenant_id, model_name), (tenant_id, model_name)
            )
            self.run_id, self._logged = self._parent_run(study_id, dict(tags))
        self._thread = threading.Thread(target=self._log_forever, name=f"mlflow-study-{study_id[:8]}", daemon=True)
        self._thread.start()

    def _parent_run(self, study_id: str, tags: dict[str, str]) -> tuple[str, set[int]]:
        found = self._client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.{STUDY_ID_TAG} = '{study_id}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1,
            order_by=["attributes.start_time ASC"],
        )
        if found:
            run_id = found[0].info.run_id
            children = self._client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.`{PARENT_RUN_TAG}` = '{run_id}'",
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=50_000,
            )
            return run_id, {int(child.data.tags[TRIAL_NUMBER_TAG]) for child in children}
        run = self._client.create_run(
            self.experiment_id, tags={STUDY_ID_TAG: study_id, **tags}, run_name=f"study-{study_id}"
        )
        return run.info.run_id, set()

    def __enter__(self) -> StudyRuns:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def trial_finished(self, trial: TrialRecord) -> None:
        """Queue a finished trial for logging as a child run (returns at once)."""
        if trial.number not in self._logged:
            self._queue.put(trial)

    def close(self) -> None:
        """Log every queued trial, then stop the background thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def finish(
        self,
        *,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        figures: Sequence[tuple[Figure, str]] = (),
        failed: bool = False,
    ) -> None:
        """Flush the trials, then log the study's summary and plots on the parent run and end it."""
        self.close()
        with mlflow_errors(f"finish the MLflow run {self.run_id}"):
            self._runs.log_values(self.run_id, params, metrics)
            for figure, artifact_file in figures:
                self._runs.log_figure(self.run_id, figure, artifact_file)
            self._runs.finish(self.run_id, failed=failed)

    # -- the background thread ---------------------------------------------------------------------------------
    def _log_forever(self) -> None:
        done = False
        while not done:
            batch: list[TrialRecord] = []
            try:
                first = self._queue.get(timeout=_FLUSH_SECONDS)
            except queue.Empty:
                continue
            if first is None:
                done = True
            else:
                batch.append(first)
            while len(batch) < _BATCH and not done:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    done = True
                else:
                    batch.append(item)
            for trial in batch:
                try:
                    self._log_trial(trial)
                except Exception:  # tracking is a record of the study, never a reason to fail it
                    logger.exception("could not log trial %s of MLflow run %s", trial.number, self.run_id)

    def _log_trial(self, trial: TrialRecord) -> None:
        start_ms = int(trial.datetime_start.timestamp() * 1000)
        end = trial.datetime_complete or trial.datetime_start
        run = self._client.create_run(
            self.experiment_id,
            start_time=start_ms,
            tags={PARENT_RUN_TAG: self.run_id, TRIAL_NUMBER_TAG: str(trial.number), "state": trial.state},
            run_name=f"trial-{trial.number}",
        )
        metrics = {
            "val_mae": trial.value,
            "val_rmse": trial.rmse,
            "duration_seconds": trial.duration_seconds,
            "best_iteration": trial.best_iteration,
            "pruned": 1.0 if trial.state == "PRUNED" else 0.0,
        }
        end_ms = int(end.timestamp() * 1000)
        self._client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, float(v), end_ms, 0) for k, v in metrics.items() if v is not None],
            params=[Param(k, str(v)) for k, v in trial.params.items()],
            tags=[] if trial.error is None else [RunTag("error", trial.error[:4000])],
        )
        status = RunStatus.to_string(_STATUS.get(trial.state, RunStatus.FAILED))
        self._client.set_terminated(run.info.run_id, status, end_time=end_ms)
        self._logged.add(trial.number)
