"""A study as a job: the worker tunes on Ray, fits the best trial, registers it with the study in its lineage.

Real local Ray, real Optuna storage (SQLite file, or the PostgreSQL test database's ``optuna`` schema), real MLflow
(SQLite), on both metadata databases.
"""

from __future__ import annotations

import itertools

import pytest
from mlflow.entities import ViewType

from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.request import OptimizeRequest
from trainforge.hpo.store import StudyStore
from trainforge.hpo.submission import submit_study
from trainforge.jobs.request import JobRequest
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.jobs.submission import submit_job
from trainforge.jobs.worker import Worker
from trainforge.pipeline.config import TrainingConfig
from trainforge.registry import ModelRegistry

SPACE = {
    "n_estimators": {"type": "int", "low": 20, "high": 60},
    "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
    "num_leaves": {"type": "categorical", "choices": [7, 15, 31]},
    "max_bin": 31,
}


@pytest.fixture
def setup(engine, settings, local_ray, request):
    if engine.dialect.name == "postgresql":  # Optuna on the same backend as the metadata, in its own schema
        settings = settings.model_copy(update={"optuna_storage_url": request.getfixturevalue("pg_url")})
    settings.ensure_home()
    features = ParquetFeatureStore(settings.resolved_feature_store_root)
    features.write_frame(
        "t1",
        "site_load",
        generate_demo_load(n_series=2, periods=24 * 60),
        timestamp_col="timestamp",
        series_col="site_id",
    )
    store = JobStore(engine)
    studies = StudyStore(engine)
    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    worker = Worker(settings, store, registry, worker_id="test-worker", poll_seconds=0.2)
    return store, studies, features, registry, worker


def test_a_study_tunes_in_parallel_fits_the_best_trial_and_registers_it(setup):
    store, studies, features, registry, worker = setup
    job, study = submit_study(
        OptimizeRequest(
            tenant_id="t1",
            study_name="site-study",
            model_type="forecast",
            feature_set="site_load",
            config={"target_variable": "load_kw", "horizon": 12},
            search_space=SPACE,
            optimization_strategy="tpe",
            n_trials=8,
            parallel_jobs=2,
            seed=3,
        ),
        jobs=store,
        studies=studies,
        features=features,
    )
    outcome = worker.run_next()
    assert outcome.status is JobStatus.COMPLETED, [line.message for line in store.logs(job.job_id)[0]]

    done = studies.get(study.study_id)
    assert done.status is JobStatus.COMPLETED
    assert done.n_trials_completed + done.n_trials_pruned == 8
    trials, total = studies.list_trials(study.study_id, limit=100)
    assert total >= 8 and all(t.state != "RUNNING" for t in trials)
    finished = [t for t in trials if t.state == "COMPLETE"]
    assert done.best.value == min(t.value for t in finished)
    # Trials ran two at a time: some trial started before another had finished.
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    assert any(later_start < end for (_, end), (later_start, _) in itertools.pairwise(spans))

    job_done = store.get(job.job_id)
    assert job_done.metrics["best_mae"] == pytest.approx(done.best.value)
    assert job_done.metrics["total_trials"] == 8
    assert job_done.progress == 1.0
    version = registry.get_version(job_done.model_id)
    assert version.tags["study_id"] == str(study.study_id)
    assert version.tags["hpo_best_trial"] == str(done.best.number)
    for name, value in done.best.params.items():  # the registered model was fitted with the best trial's values
        assert version.facts.hyperparams[name] == value
    assert version.facts.hyperparams["max_bin"] == 31  # fixed in the space

    # MLflow: the job's run is the study's parent run (its plots, then the final model's), with one child run per
    # trial.
    client = registry.backend.client
    parents = client.search_runs(
        [version.experiment_id], filter_string=f"tags.study_id = '{study.study_id}'", run_view_type=ViewType.ALL
    )
    assert len(parents) == 1
    parent = parents[0]
    children = client.search_runs(
        [version.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=100
    )
    assert len(children) == total
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert artifacts == {
        "plots/optimisation_history.png",
        "plots/param_importances.png",
        "plots/forecast_vs_actual.png",
    }
    assert parent.info.run_id == version.run_id


def test_a_job_with_enable_hpo_gets_a_study_and_its_logs_tell_the_trials(setup):
    store, studies, features, _registry, worker = setup
    job = submit_job(
        JobRequest(
            tenant_id="t1",
            model_type="forecast",
            model_name="site_load",
            feature_set="site_load",
            config=TrainingConfig(
                target_variable="load_kw",
                horizon=12,
                enable_hpo=True,
                n_trials=4,
                parallel_jobs=1,
                optimization_strategy="random",
                hpo_seed=1,
                hyperparams=SPACE,
            ),
        ),
        store=store,
        features=features,
    )
    outcome = worker.run_next()
    assert outcome.status is JobStatus.COMPLETED, [line.message for line in store.logs(job.job_id)[0]]
    study = studies.get_by_job(job.job_id)
    assert study.study_name.startswith("site_load-")
    assert study.n_trials_completed + study.n_trials_pruned == 4
    messages = [line.message for line in store.logs(job.job_id)[0] if line.step == "tune"]
    assert sum(message.startswith("Trial ") for message in messages) >= 4
    assert any(message.startswith("Study ended (finished)") for message in messages)
