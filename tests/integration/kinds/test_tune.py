"""A study as a job: the worker tunes on Ray, fits the best trial, registers it with the study in its lineage.

Real local Ray, real Optuna storage (SQLite file, or the PostgreSQL test database's ``optuna`` schema), real MLflow
(SQLite), on both metadata databases. The job's listener is also tested alone, with a clock of its own: what it
writes in one transaction, and when.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from mlflow.entities import ViewType
from sqlalchemy import event

from trainforge.hpo.coordinator import TrialRecord
from trainforge.hpo.store import StudyStore
from trainforge.hpo.study_listener import BATCH_SECONDS, HEARTBEAT_SECONDS, TUNE_PROGRESS, JobStudyListener
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.pipeline.config import TrainingConfig, TuningConfig
from trainforge.submission import JobRequest, OptimizeRequest, enqueue_with_study, submit_job, submit_study

SPACE = {
    "n_estimators": {"type": "int", "low": 20, "high": 60},
    "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
    "num_leaves": {"type": "categorical", "choices": [7, 15, 31]},
    "max_bin": 31,
}


@pytest.fixture
def setup(engine, make_worker, request):
    optuna = {}
    if engine.dialect.name == "postgresql":  # Optuna on the same backend as the metadata, in its own schema
        optuna = {"optuna_storage_url": request.getfixturevalue("pg_url")}
    made = make_worker(periods=24 * 60, **optuna)
    return made.store, StudyStore(engine), made.features, made.registry, made.worker


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
    trials, total = studies.list_trials(study.study_id, page_size=100)
    assert total >= 8 and all(t.state != "RUNNING" for t in trials)
    finished = [t for t in trials if t.state == "COMPLETE"]
    assert done.best.value == min(t.value for t in finished)
    # Trials ran two at a time: some trial started before another had finished.
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    assert any(later_start < end for (_, end), (later_start, _) in itertools.pairwise(spans))

    # The listener's last batch was written before the study ended: one log line per trial, the counts the mirror's.
    messages = [line.message for line in store.logs(job.job_id)[0] if line.step == "tune"]
    assert sum(message.startswith("Trial ") for message in messages) == total
    assert (done.n_trials_completed, done.n_trials_pruned, done.n_trials_failed) == tuple(
        sum(t.state == state for t in trials) for state in ("COMPLETE", "PRUNED", "FAIL")
    )

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
        "plots/mae_by_step.png",
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
                tuning=TuningConfig(n_trials=4, parallel_jobs=1, optimization_strategy="random", seed=1),
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


# -- the listener alone ----------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trial(number: int, state: str = "RUNNING", **values) -> TrialRecord:
    start = datetime.now(UTC)
    finished = state != "RUNNING"
    return TrialRecord(
        number=number,
        state=state,
        value=values.get("value"),
        params={"learning_rate": 0.1},
        rmse=values.get("rmse"),
        datetime_start=start,
        datetime_complete=start + timedelta(seconds=1) if finished else None,
        duration_seconds=1.0 if finished else None,
        best_iteration=None,
        error=values.get("error"),
    )


@pytest.fixture
def listening(engine):
    """A claimed study job, its listener on a clock the test moves, and a count of the write transactions."""
    store, studies = JobStore(engine), StudyStore(engine)
    config = TrainingConfig(
        target_variable="load_kw",
        enable_hpo=True,
        tuning=TuningConfig(n_trials=20, optimization_strategy="random"),
        hyperparams=SPACE,
    )
    new_job = NewJob(
        tenant_id="t1",
        model_type="forecast",
        model_name="site_load",
        feature_set="site_load",
        config=config.model_dump(mode="json"),
    )
    job, study = enqueue_with_study(new_job, jobs=store, studies=studies, study_name="listened")
    job = store.claim_next("w1")
    clock = Clock()
    listener = JobStudyListener(
        job=job,
        study=study,
        job_store=store,
        study_store=studies,
        runs=None,
        worker_id="w1",
        lease_seconds=60,
        draining=lambda: False,
        clock=clock,
    )
    commits: list[int] = []

    @event.listens_for(engine, "commit")
    def count(conn) -> None:
        # Only write transactions (write_transaction marks them so on both backends): reads commit too.
        if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            commits.append(1)

    return store, studies, job, study, listener, clock, commits


def states(studies: StudyStore, study_id: uuid.UUID) -> dict[int, str]:
    return {row.number: row.state.value for row in studies.list_trials(study_id, page_size=100)[0]}


def tune_lines(store: JobStore, job_id: uuid.UUID) -> list[tuple[str, str]]:
    return [(line.level, line.message) for line in store.logs(job_id)[0] if line.step == "tune"]


def test_the_listener_writes_a_finished_trial_its_study_and_its_job_in_one_commit(listening):
    store, studies, job, study, listener, clock, commits = listening
    # Started trials wait for the next write: the coordinator's poll (every 0.5 s) writes them as RUNNING.
    listener.trial_started(trial(0))
    listener.trial_started(trial(1))
    assert states(studies, study.study_id) == {} and commits == []
    clock.now += 0.1
    assert listener.should_stop() is False
    assert states(studies, study.study_id) == {0: "RUNNING", 1: "RUNNING"} and len(commits) == 1

    # A trial that finishes moments after a write waits for the next one: nothing of it is visible yet...
    first = trial(0, "COMPLETE", value=1.5, rmse=2.0)
    clock.now += 0.1
    listener.trial_finished(first, first, {"COMPLETE": 1, "PRUNED": 0, "FAIL": 0})
    assert states(studies, study.study_id)[0] == "RUNNING" and len(commits) == 1
    assert studies.get(study.study_id).n_trials_completed == 0
    assert "current_trial" not in (store.get(job.job_id).metrics or {}) and tune_lines(store, job.job_id) == []

    # ...and is written with the next trial to finish once BATCH_SECONDS have passed: both mirror rows, the
    # study's counts and best, the job's progress, metrics and log lines, in one commit.
    lease = store.get(job.job_id).lease_expires_at
    clock.now += BATCH_SECONDS
    second = trial(1, "FAIL", error="ValueError: boom")
    listener.trial_finished(second, first, {"COMPLETE": 1, "PRUNED": 0, "FAIL": 1})
    assert len(commits) == 2
    assert states(studies, study.study_id) == {0: "COMPLETE", 1: "FAIL"}
    read = studies.get(study.study_id)
    assert (read.n_trials_completed, read.n_trials_pruned, read.n_trials_failed) == (1, 0, 1)
    assert (read.best.number, read.best.value, read.best.rmse) == (0, 1.5, 2.0)
    job_now = store.get(job.job_id)
    low, high = TUNE_PROGRESS
    assert job_now.progress == pytest.approx(low + (high - low) / 20) and job_now.current_step == "tune"
    assert job_now.metrics["current_trial"] == 1 and job_now.metrics["trials_failed"] == 1
    assert job_now.metrics["best_mae"] == 1.5 and job_now.metrics["best_rmse"] == 2.0
    assert job_now.lease_expires_at > lease  # the write renewed the lease
    lines = tune_lines(store, job.job_id)
    assert [level for level, _ in lines] == ["INFO", "WARNING"]
    assert lines[0][1].startswith("Trial 0 complete") and "(best so far)" in lines[0][1]
    assert lines[1][1] == "Trial 1 failed in 1.0 s: ValueError: boom"

    # A trial that starts and ends between two writes is written once, as it ended.
    listener.trial_started(trial(2))
    listener.trial_finished(trial(2, "PRUNED", value=3.0), first, {"COMPLETE": 1, "PRUNED": 1, "FAIL": 1})
    assert len(commits) == 2
    listener.flush()
    assert len(commits) == 3 and states(studies, study.study_id)[2] == "PRUNED"
    assert studies.get(study.study_id).n_trials_pruned == 1


def test_the_listener_renews_the_lease_and_sees_a_cancellation(listening):
    store, _studies, job, _study, listener, clock, commits = listening
    clock.now += HEARTBEAT_SECONDS / 2
    assert listener.should_stop() is False and commits == []  # nothing waits, no heartbeat due
    lease = store.get(job.job_id).lease_expires_at
    clock.now += HEARTBEAT_SECONDS
    assert listener.should_stop() is False and len(commits) == 1
    assert store.get(job.job_id).lease_expires_at > lease
    store.transition(job.job_id, JobStatus.CANCELLED, reason="stop")
    listener.trial_started(trial(0))
    assert listener.should_stop() is True and listener.cancelled  # seen at the next write


def test_a_resumed_study_writes_every_trial_it_had_finished_at_once(listening):
    store, studies, job, study, listener, _clock, commits = listening
    earlier = [trial(0, "COMPLETE", value=2.0), trial(1, "FAIL", error="lost"), trial(2, "COMPLETE", value=1.0)]
    listener.trials_resumed(earlier, earlier[2], {"COMPLETE": 2, "PRUNED": 0, "FAIL": 1})
    assert len(commits) == 1
    assert states(studies, study.study_id) == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE"}
    assert studies.get(study.study_id).best.number == 2
    assert store.get(job.job_id).metrics["current_trial"] == 2
    assert tune_lines(store, job.job_id) == []  # their log lines were written by the attempt that ran them
