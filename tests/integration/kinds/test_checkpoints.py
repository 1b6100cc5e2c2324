"""Step checkpoints end to end: a resumed pipeline gives the same result, and a retried job skips its finished steps.

The worker tests inject a real fault, on both databases: a registry whose first registration fails after the
pipeline has finished, as an unreachable MLflow would.
"""

from __future__ import annotations

import pandas as pd
import pytest

from trainforge.errors import TrainforgeError
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.checkpoint_dirs import job_checkpoint_dir, sweep_ended_jobs
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.pipeline.checkpoints import stored_steps
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.forecast import run_forecast_pipeline
from trainforge.pipeline.result import PipelineResult, StepEvent
from trainforge.registry import ModelRegistry
from trainforge.submission import JobRequest, submit_job

HYPERPARAMS = {"n_estimators": 60}


def write_demo(features: ParquetFeatureStore, seed: int = 3) -> None:
    demo = generate_demo_load(n_series=2, periods=24 * 90, seed=seed)
    features.write_frame("t1", "site_load", demo, timestamp_col="timestamp", series_col="site_id")


# -- the pipeline ------------------------------------------------------------------------------------------------


@pytest.fixture
def features(tmp_path) -> ParquetFeatureStore:
    store = ParquetFeatureStore(tmp_path / "features")
    write_demo(store)
    return store


def run(features: ParquetFeatureStore, checkpoint_dir=None, tuned=None) -> tuple[list[StepEvent], PipelineResult]:
    """Run the pipeline; ``tuned`` stands for the hyperparameters a search chose (they override the config's)."""
    items = list(
        run_forecast_pipeline(
            tenant_id="t1",
            feature_set="site_load",
            config=TrainingConfig(target_variable="load_kw", horizon=24, hyperparams=HYPERPARAMS),
            feature_store_root=str(features.root),
            num_threads=1,
            hyperparams=tuned,
            checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
        )
    )
    return items[:-1], items[-1]


def messages(events: list[StepEvent]) -> list[str]:
    return [event.message for event in events]


def test_a_resumed_run_reuses_load_and_fit_and_gives_the_same_result(tmp_path, features):
    _, fresh = run(features)
    first_events, first = run(features, tmp_path / "job")
    assert stored_steps(tmp_path / "job") == ["load", "fit"]
    resumed_events, resumed = run(features, tmp_path / "job")

    # fit, then the refit on train + validation (never checkpointed: it is rebuilt from the reused fit's rounds).
    assert [e.step for e in first_events] == ["load", "load", "prepare", "fit", "fit", "fit", "fit", "evaluate"]
    assert [e.step for e in resumed_events] == ["load", "prepare", "fit", "fit", "fit", "evaluate"]
    assert resumed_events[0].message.startswith("Reused the checkpoint of step 'load' from an earlier attempt: ")
    assert resumed_events[2].message.startswith("Reused the checkpoint of step 'fit' from an earlier attempt ")
    assert [e.metrics for e in resumed_events if e.progress is not None] == [
        e.metrics for e in first_events if e.progress is not None
    ]
    assert all(e.level == "INFO" for e in first_events + resumed_events)
    for result in (first, resumed):
        assert result.metrics == fresh.metrics
        assert result.hyperparams == fresh.hyperparams
        assert result.lineage == fresh.lineage
        assert result.model.booster.model_to_string() == fresh.model.booster.model_to_string()
        pd.testing.assert_frame_equal(result.test_predictions, fresh.test_predictions)


def test_other_hyperparameters_reuse_the_data_but_fit_again(tmp_path, features):
    run(features, tmp_path / "job")
    events, result = run(features, tmp_path / "job", tuned={**HYPERPARAMS, "num_leaves": 15})
    assert events[0].message.startswith("Reused the checkpoint of step 'load'")
    assert any(e.level == "INFO" and "step 'fit'" in e.message and "other inputs" in e.message for e in events)
    assert any(e.message.startswith("Fitting lightgbm") for e in events)
    assert result.hyperparams["num_leaves"] == 15
    again_events, again = run(features, tmp_path / "job", tuned={**HYPERPARAMS, "num_leaves": 15})
    assert again_events[2].message.startswith("Reused the checkpoint of step 'fit'")  # the new fit replaced the old
    assert again.metrics == result.metrics


def test_a_new_version_of_the_feature_set_is_loaded_and_fitted_again(tmp_path, features):
    run(features, tmp_path / "job")
    write_demo(features, seed=4)
    events, result = run(features, tmp_path / "job")
    assert not any(e.message.startswith("Reused") for e in events)
    assert [e.step for e in events if "other inputs" in e.message] == ["load", "fit"]
    assert events[[e.step for e in events].index("prepare") - 1].metrics["feature_set_version"] == 2.0
    _, fresh = run(features)
    assert result.metrics == fresh.metrics


def test_a_corrupt_checkpoint_costs_a_warning_and_a_rerun_not_the_job(tmp_path, features):
    _, first = run(features, tmp_path / "job")
    (tmp_path / "job" / "fit.txt").write_text("not a model")
    events, result = run(features, tmp_path / "job")
    warnings = [e for e in events if e.level == "WARNING"]
    assert len(warnings) == 1 and "step 'fit'" in warnings[0].message
    assert any(e.message.startswith("Fitting") for e in events)
    assert result.metrics == first.metrics


# -- the worker --------------------------------------------------------------------------------------------------


class RegistryThatFailsOnce(ModelRegistry):
    """The first registration fails, as it would with MLflow unreachable: after the whole pipeline has run."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.failures_left = 1

    def register_job_result(self, job, result):
        if self.failures_left:
            self.failures_left -= 1
            raise TrainforgeError("the MLflow tracking server did not answer (injected fault)")
        return super().register_job_result(job, result)


@pytest.fixture
def setup(make_worker):
    # The data of write_demo; no retry delay: the retry is claimable at once.
    made = make_worker(periods=24 * 90, seed=3, registry_class=RegistryThatFailsOnce, retry_base_delay_seconds=0.0)
    return made.settings, made.store, made.features, made.registry, made.worker


def submit(store, features, **config):
    request = JobRequest(
        tenant_id="t1",
        model_type="forecast",
        model_name="site_load",
        feature_set="site_load",
        config=TrainingConfig(target_variable="load_kw", horizon=24, **config),
    )
    return submit_job(request, store=store, features=features)


def test_a_retried_job_reuses_its_load_and_fit_and_registers_one_version(setup):
    settings, store, features, registry, worker = setup
    job = submit(store, features, hyperparams=HYPERPARAMS)
    checkpoint_dir = job_checkpoint_dir(settings.resolved_checkpoint_root, job.job_id)

    assert worker.run_next().status is JobStatus.QUEUED  # failed at registration, after the fit
    assert stored_steps(checkpoint_dir) == ["load", "fit"]
    outcome = worker.run_next()

    lines = [line.message for line in store.logs(job.job_id)[0]]
    assert outcome.status is JobStatus.COMPLETED, lines[-5:]
    done = store.get(job.job_id)
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 2)
    assert "Attempt 2 of 3: checkpoints of steps 'load', 'fit' from an earlier attempt" in lines
    assert any(m.startswith("Reused the checkpoint of step 'load' from an earlier attempt") for m in lines)
    assert any(m.startswith("Reused the checkpoint of step 'fit' from an earlier attempt") for m in lines)
    assert sum(m.startswith("Loading feature set") for m in lines) == 1  # only the first attempt loaded
    assert sum(m.startswith("Fitting lightgbm") for m in lines) == 1  # and fitted
    assert [v.tags["job_id"] for v in registry.list_versions("t1", "site_load")] == [str(job.job_id)]
    assert not checkpoint_dir.exists()


def test_a_job_that_fails_for_good_leaves_no_checkpoints(setup):
    settings, store, features, _registry, worker = setup
    # Two days of data load fine (and are checkpointed) but cannot be split into train, validation and test.
    job = submit(store, features, start_date="2023-01-01T00:00:00Z", end_date="2023-01-03T00:00:00Z")
    assert worker.run_next().status is JobStatus.FAILED
    assert not job_checkpoint_dir(settings.resolved_checkpoint_root, job.job_id).exists()


def test_the_sweep_removes_the_checkpoints_of_ended_jobs_only(engine, features, tmp_path):
    store = JobStore(engine)
    root = tmp_path / "checkpoints"
    waiting, cancelled = submit(store, features), submit(store, features)
    store.transition(cancelled.job_id, JobStatus.CANCELLED, reason="cancelled while waiting for a retry")
    for name in (str(waiting.job_id), str(cancelled.job_id), "not-a-job", "00000000-0000-0000-0000-000000000000"):
        (root / name).mkdir(parents=True)
    assert sweep_ended_jobs(root, store) == [cancelled.job_id]
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [str(waiting.job_id), "not-a-job", "00000000-0000-0000-0000-000000000000"]
    )
