"""The study coordinator on a real local Ray, real trials and Optuna's storage on SQLite and PostgreSQL.

The data is small (two sites, 90 days: ~2,800 training rows) so that a trial takes a fraction of a second and a
20-trial study seconds; what is slow here is starting Ray actors on a busy machine.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tests.integration.hpo.faults import dying_actor, raising_actor
from trainforge.errors import InsufficientData
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.coordinator import StudySpec, TrialRecord, run_study
from trainforge.hpo.optuna_storage import SingleWriterStorage, open_storage, optuna_study_name
from trainforge.hpo.samplers import make_sampler
from trainforge.hpo.space import parse_search_space
from trainforge.hpo.study_data import build_study_data, prepare_study_data, split_room
from trainforge.hpo.trial_actor import TrialRunner
from trainforge.models.families import validate_hyperparams
from trainforge.models.lightgbm_forecast import fit, predict
from trainforge.pipeline.config import BacktestConfig, TrainingConfig, TuningConfig
from trainforge.pipeline.request import PipelineRequest

RESUME_SCRIPT = Path(__file__).with_name("resume_study.py")
# Fast trials: few, shallow trees; early stopping after 10 rounds without progress.
SPACE = {
    "n_estimators": {"type": "int", "low": 20, "high": 80},
    "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
    "max_depth": {"type": "int", "low": 3, "high": 8},
    "early_stopping_rounds": 10,
}
CONFIG = TrainingConfig(target_variable="load_kw", horizon=24)


@pytest.fixture(scope="module")
def feature_store_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("hpo_features")
    ParquetFeatureStore(root).write_frame(
        "t1",
        "site_load",
        generate_demo_load(n_series=2, periods=24 * 90),
        timestamp_col="timestamp",
        series_col="site_id",
    )
    return str(root)


@pytest.fixture(scope="module")
def pipeline_request(feature_store_root) -> PipelineRequest:
    return PipelineRequest(
        tenant_id="t1", feature_set="site_load", config=CONFIG, feature_store_root=str(feature_store_root)
    )


@pytest.fixture(scope="module")
def data_ref(local_ray, pipeline_request):
    """The study data in Ray's object store, prepared once for the module's studies."""
    return prepare_study_data.remote(pipeline_request)


@pytest.fixture(scope="module")
def sqlite_optuna_url(tmp_path_factory) -> str:
    # One file for the module: opening a storage creates Optuna's tables (seconds on this machine), and every
    # study has its own name.
    return f"sqlite:///{tmp_path_factory.mktemp('optuna') / 'optuna.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def optuna_url(request, sqlite_optuna_url) -> str:
    """An Optuna storage URL: a SQLite file, or the run's PostgreSQL database (schema ``optuna``)."""
    if request.param == "sqlite":
        return sqlite_optuna_url
    return request.getfixturevalue("pg_url")


class Listener:
    """Records what the coordinator reports; stops the study when ``stop_after`` trials have finished."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.resumed: list[TrialRecord] = []
        self.started: list[TrialRecord] = []
        self.finished: list[TrialRecord] = []
        self.best: list[TrialRecord | None] = []
        self.counts: list[dict[str, int]] = []
        self.stop_after = stop_after
        self.running = 0
        self.most_running = 0

    def trials_resumed(self, trials: list[TrialRecord], best: TrialRecord | None, counts: dict[str, int]) -> None:
        assert not self.resumed and not self.started and not self.finished  # once, first
        self.resumed = list(trials)
        self.best.append(best)
        self.counts.append(counts)

    def trial_started(self, trial: TrialRecord) -> None:
        assert trial.state == "RUNNING"
        self.started.append(trial)
        self.running += 1
        self.most_running = max(self.most_running, self.running)

    def trial_finished(self, trial: TrialRecord, best: TrialRecord | None, counts: dict[str, int]) -> None:
        self.finished.append(trial)
        self.best.append(best)
        self.counts.append(counts)
        self.running -= 1

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.finished) >= self.stop_after


def spec_for(space=SPACE, **overrides) -> StudySpec:
    strategy = overrides.pop("strategy", "tpe")
    values = {
        "study_id": uuid.uuid4(),
        "space": parse_search_space("lightgbm", space, strategy=strategy),
        "strategy": strategy,
        "seed": 1,
        "n_trials": 20,
        "parallel_jobs": 2,
        "timeout_seconds": None,
    }
    return StudySpec(**{**values, **overrides})


def stored_trials(url: str, spec: StudySpec) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as Optuna's own storage reads them from the database (no in-memory copy)."""
    storage = open_storage(url)
    study_id = storage.get_study_id_from_name(optuna_study_name(spec.study_id))
    return storage.get_all_trials(study_id)


def finished_count(trials) -> int:
    return sum(trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in trials)


# -- the trial itself --------------------------------------------------------------------------------------
def test_a_trial_trains_the_model_the_final_fit_trains_on_a_reused_dataset(pipeline_request):
    data = build_study_data(**pipeline_request.arguments())
    runner = TrialRunner(data, num_threads=1)
    trials = [
        {"n_estimators": 120, "learning_rate": 0.1},
        {"n_estimators": 120, "learning_rate": 0.05, "subsample": 0.7, "colsample_bytree": 0.6},
        {"n_estimators": 120, "learning_rate": 0.2, "max_depth": 4, "num_leaves": 15, "min_child_samples": 5},
        # Fewer holiday rows than min_child_samples: the final fit drops that column when it bins the data.
        {"n_estimators": 120, "learning_rate": 0.1, "colsample_bytree": 0.7, "min_child_samples": 200},
    ]
    for number, hyperparams in enumerate(trials):
        params = validate_hyperparams("lightgbm", hyperparams)
        events = list(runner.run(number, params, 10))
        kind, result = events[-1]
        assert kind == "done"
        assert [event[1] for event in events[:-1]] == list(range(10, 10 * len(events[:-1]) + 1, 10))

        model = fit(data.X_train, data.y_train, data.X_val, data.y_val, params, 1)
        error = (predict(model, data.X_val) - data.y_val) * data.val_level
        assert result["best_iteration"] == model.best_iteration
        assert result["value"] == pytest.approx(float(np.abs(error).mean()), rel=1e-9)
        assert result["rmse"] == pytest.approx(math.sqrt(float(np.mean(error**2))), rel=1e-9)
    # The binned data is built once and reused, once more for the trial whose min_child_samples drops a column.
    assert runner.stats()["datasets_built"] == 2
    assert runner.stats()["trials_run"] == len(trials)


def test_with_the_backtest_objective_a_trial_scores_the_windows_at_its_best_round(pipeline_request):
    config = CONFIG.model_copy(
        update={
            "enable_hpo": True,
            "backtest": BacktestConfig(n_windows=3, step_size=24, refit=True),
            "tuning": TuningConfig(objective="backtest_mae"),
        }
    )
    data = build_study_data(**dataclasses.replace(pipeline_request, config=config).arguments())
    assert data.backtest is not None and len(data.backtest) == 3  # trials are never refitted per window
    params = validate_hyperparams("lightgbm", {"n_estimators": 60})
    kind, result = list(TrialRunner(data, num_threads=1).run(0, params, 10))[-1]
    assert kind == "done"

    model = fit(data.X_train, data.y_train, data.X_val, data.y_val, params, 1)
    assert result["best_iteration"] == model.best_iteration
    windows = [np.mean(np.abs(rows.to_forecast(predict(model, rows.inputs)) - rows.actual)) for rows in data.backtest]
    assert result["value"] == pytest.approx(float(np.mean(windows)), rel=1e-9)
    validation = float(np.mean(np.abs((predict(model, data.X_val) - data.y_val) * data.val_level)))
    assert result["value"] != pytest.approx(validation)  # not the validation MAE


def test_a_pruned_trial_stops_at_its_next_round(pipeline_request):
    runner = TrialRunner(build_study_data(**pipeline_request.arguments()), num_threads=1)
    params = validate_hyperparams("lightgbm", {"n_estimators": 500, "learning_rate": 0.0001})
    stream = runner.run(3, params, 5)
    assert next(stream)[:2] == ("report", 5)
    runner.prune(3)
    assert next(stream) == ("pruned", 5)
    assert list(stream) == []


def test_split_room_is_what_lightgbm_needs_to_keep_a_column():
    import pandas as pd

    assert split_room(pd.Series([1.0] * 10)) == 0  # constant: always dropped
    assert split_room(pd.Series([0.0] * 97 + [1.0] * 3)) == 3  # a rare flag: room for 3 rows on the small side
    assert split_room(pd.Series(np.arange(100.0))) == 50
    assert split_room(pd.Series([1.0, 2.0, np.nan, np.nan])) == 2  # missing values go right
    assert split_room(pd.Series(["a", "b", "c"] * 5, dtype="category")) == math.inf
    assert split_room(pd.Series(["a"] * 4 + ["b"], dtype="category")) == 1


# -- studies -----------------------------------------------------------------------------------------------
def test_a_20_trial_study_with_2_parallel_trials_finishes_20_trials(optuna_url, data_ref):
    spec = spec_for()
    listener = Listener()
    outcome = run_study(spec, open_storage(optuna_url), data_ref, listener)

    assert outcome.reason == "finished"
    assert outcome.counts["COMPLETE"] + outcome.counts["PRUNED"] == 20
    assert outcome.counts["FAIL"] == 0
    assert listener.most_running == 2  # trials ran two at a time
    assert len(listener.started) == len(listener.finished) == 20

    trials = stored_trials(optuna_url, spec)
    assert len(trials) == 20 and finished_count(trials) == 20
    complete = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    best = min(complete, key=lambda trial: trial.value)
    assert outcome.best.number == best.number and outcome.best.value == best.value
    assert outcome.best.rmse == best.user_attrs["rmse"] > best.value
    assert outcome.best.params == {**best.params, "early_stopping_rounds": 10}  # fixed values are in the params
    for trial in complete:
        assert trial.user_attrs["best_iteration"] >= 1
    # What the listener was told is what the database holds.
    told = {record.number: record for record in listener.finished}
    for trial in trials:
        record = told[trial.number]
        assert record.state == trial.state.name
        assert record.value == trial.value
        assert record.intermediate == trial.intermediate_values
        assert abs((record.datetime_start - trial.datetime_start.astimezone()).total_seconds()) < 1e-3
    assert listener.counts[-1] == outcome.counts
    assert listener.best[-1].number == best.number
    # The study's start is recorded for the timeout, and its space for optuna-dashboard users.
    study = optuna.load_study(study_name=optuna_study_name(spec.study_id), storage=open_storage(optuna_url))
    assert study.user_attrs["trainforge_started_at"] <= time.time()
    assert study.user_attrs["search_space"] == spec.space.as_json()


def test_a_killed_coordinator_resumes_to_exactly_n_trials_and_reruns_the_ones_it_left_running(
    optuna_url, local_ray, feature_store_root
):
    # 10 trials: the kill comes after 3 have finished with 2 in flight, and the second coordinator runs the rest.
    n_trials = 10
    study_id = uuid.uuid4()
    spec = StudySpec(study_id, parse_search_space("lightgbm", SPACE), "tpe", 7, n_trials, 2, None)
    args = [sys.executable, str(RESUME_SCRIPT), local_ray.get_runtime_context().gcs_address, optuna_url]
    args += [str(study_id), feature_store_root, str(n_trials)]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first coordinator never finished 3 trials"
            try:
                trials = stored_trials(optuna_url, spec)
            except KeyError:  # the study is not created yet
                trials = []
            # Kill it when 3 trials are done and two are in flight, so that it leaves RUNNING trials behind.
            if finished_count(trials) >= 3 and sum(t.state == TrialState.RUNNING for t in trials) == 2:
                break
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    left = stored_trials(optuna_url, spec)
    left_running = [trial for trial in left if trial.state == TrialState.RUNNING]
    assert left_running, "the kill left no RUNNING trial to resume"
    assert finished_count(left) < n_trials

    second = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    outcome = json.loads(second.stdout.strip().splitlines()[-1])
    assert outcome["reason"] == "finished"
    # Its listener first heard of every trial the killed coordinator had finished.
    assert f"resumed {sum(trial.state.is_finished() for trial in left)}" in second.stdout.splitlines()

    trials = stored_trials(optuna_url, spec)
    states = Counter(trial.state for trial in trials)
    assert states[TrialState.COMPLETE] + states[TrialState.PRUNED] == n_trials
    assert states[TrialState.RUNNING] == 0
    by_number = {trial.number: trial for trial in trials}
    for stale in left_running:  # failed on resume, and run again with the same parameters
        assert by_number[stale.number].state == TrialState.FAIL
        retries = [trial for trial in trials if trial.user_attrs.get("retry_of") == stale.number]
        assert len(retries) == 1
        assert retries[0].params == stale.params
        assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    # Every trial finished before the kill is kept as it was.
    for trial in left:
        if trial.state.is_finished():
            assert by_number[trial.number].state == trial.state and by_number[trial.number].value == trial.value
    assert outcome["counts"] == {
        state.name: states[state] for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }


def test_a_grid_search_visits_each_point_once(optuna_url, data_ref):
    space = {
        "n_estimators": {"type": "categorical", "choices": [20, 40]},
        "max_depth": {"type": "int", "low": 3, "high": 7, "step": 2},
        "early_stopping_rounds": 10,
    }
    spec = spec_for(space, strategy="grid", n_trials=20, pruner="none")
    outcome = run_study(spec, open_storage(optuna_url), data_ref, Listener())

    assert outcome.reason == "grid_exhausted"
    assert outcome.counts == {"COMPLETE": 6, "PRUNED": 0, "FAIL": 0}
    points = [(trial.params["n_estimators"], trial.params["max_depth"]) for trial in stored_trials(optuna_url, spec)]
    assert sorted(points) == [(n, depth) for n in (20, 40) for depth in (3, 5, 7)]


# TPE models past trials after its 10 random start-up trials: 12 trials include two it chose by the model. Random
# sampling has no such phase: 4 trials show the same sequence again (each trial run costs time, twice per test).
@pytest.mark.parametrize(("strategy", "n_trials"), [("random", 4), ("tpe", 12)])
def test_a_seeded_study_samples_the_same_parameters_again(optuna_url, data_ref, strategy, n_trials):
    sequences = []
    for _ in range(2):
        spec = spec_for(strategy=strategy, seed=42, n_trials=n_trials, parallel_jobs=1, pruner="none")
        listener = Listener()
        run_study(spec, open_storage(optuna_url), data_ref, listener)
        sequences.append([record.params for record in listener.started])
    assert sequences[0] == sequences[1]
    assert len({json.dumps(params, sort_keys=True) for params in sequences[0]}) == n_trials


@pytest.mark.parametrize("pruner", ["median", "successive_halving"])
def test_the_pruner_prunes_trials_in_a_bad_region(optuna_url, data_ref, pruner):
    # Three learning rates far too small for 300 rounds, and one good one. Everything else is fixed, so the
    # good trials are all alike: none is ever worse than the median, or outside a rung's top quarter, and only the
    # bad region can be pruned. The pruner's verdict reaches a trial's actor while it trains: 300 rounds (the good
    # trials stop early) leave it time to land on a loaded machine, where 100 let some bad trials finish first.
    space = {
        "learning_rate": {"type": "categorical", "choices": [0.0001, 0.0003, 0.001, 0.2]},
        "n_estimators": 300,
        "early_stopping_rounds": 10,
    }
    spec = spec_for(space, strategy="random", seed=3, n_trials=20, pruner=pruner)
    listener = Listener()
    outcome = run_study(spec, open_storage(optuna_url), data_ref, listener)

    assert outcome.reason == "finished"
    assert outcome.counts["PRUNED"] >= 3
    pruned = [record for record in listener.finished if record.state == "PRUNED"]
    assert all(record.params["learning_rate"] < 0.01 for record in pruned)
    assert all(
        record.intermediate and record.value == record.intermediate[max(record.intermediate)] for record in pruned
    )
    assert outcome.best.params["learning_rate"] > 0.01


def test_a_trial_that_raises_fails_and_is_retried_and_the_study_finishes(optuna_url, data_ref):
    # One trial at a time, so that trial numbers are certain: 1 fails, 2 is its retry, 4 fails, 5 is its retry.
    spec = spec_for(n_trials=8, parallel_jobs=1)
    listener = Listener()
    outcome = run_study(spec, open_storage(optuna_url), data_ref, listener, actor_class=raising_actor({1, 4}))

    assert outcome.reason == "finished"
    assert outcome.counts["COMPLETE"] + outcome.counts["PRUNED"] == 8
    assert outcome.counts["FAIL"] == 2
    failed = {record.number: record for record in listener.finished if record.state == "FAIL"}
    assert set(failed) == {1, 4}
    assert all("ValueError: trial" in record.error for record in failed.values())
    trials = stored_trials(optuna_url, spec)
    for number, record in failed.items():
        retry = next(trial for trial in trials if trial.user_attrs.get("retry_of") == number)
        assert retry.state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert {**retry.params, "early_stopping_rounds": 10} == record.params
        assert retry.user_attrs["attempt"] == 2
    assert sum(trial.state == TrialState.RUNNING for trial in trials) == 0


def test_a_trial_whose_actor_dies_is_retried_on_a_new_actor(optuna_url, data_ref):
    spec = spec_for(n_trials=6)
    listener = Listener()
    outcome = run_study(spec, open_storage(optuna_url), data_ref, listener, actor_class=dying_actor({2}))

    assert outcome.reason == "finished"
    assert outcome.counts["COMPLETE"] + outcome.counts["PRUNED"] == 6
    assert outcome.counts["FAIL"] == 1
    (failed,) = [record for record in listener.finished if record.state == "FAIL"]
    assert failed.number == 2 and "actor was lost" in failed.error


def test_a_study_whose_data_cannot_be_prepared_raises_the_pipelines_error(optuna_url, local_ray, pipeline_request):
    # Two days cannot hold the lag warm-up and three splits: preparing the data raises InsufficientData.
    config = TrainingConfig(
        target_variable="load_kw", start_date="2023-01-01T00:00:00Z", end_date="2023-01-03T00:00:00Z"
    )
    data_ref = prepare_study_data.remote(dataclasses.replace(pipeline_request, config=config))
    spec = spec_for(n_trials=4)
    with pytest.raises(InsufficientData):
        run_study(spec, open_storage(optuna_url), data_ref, Listener())
    assert not any(trial.state == TrialState.RUNNING for trial in stored_trials(optuna_url, spec))


def test_a_trial_that_always_fails_is_retried_once_then_given_up(optuna_url, data_ref):
    # Trial 0 raises, and so does trial 1, its retry (one trial at a time: the retry is asked for next).
    spec = spec_for(n_trials=4, parallel_jobs=1, max_trial_retries=1)
    outcome = run_study(spec, open_storage(optuna_url), data_ref, Listener(), actor_class=raising_actor({0, 1}))
    trials = stored_trials(optuna_url, spec)
    assert outcome.reason == "finished"
    assert [trial.state for trial in trials[:2]] == [TrialState.FAIL, TrialState.FAIL]
    assert trials[1].user_attrs == {"retry_of": 0, "attempt": 2, "error": trials[1].user_attrs["error"]}
    assert not any(trial.user_attrs.get("retry_of") == 1 for trial in trials)  # attempt 2 was the last
    assert finished_count(trials) == 4


def test_a_study_times_out_from_its_first_start_and_leaves_nothing_running(optuna_url, data_ref):
    spec = spec_for(n_trials=10_000, timeout_seconds=4)
    started = time.monotonic()
    outcome = run_study(spec, open_storage(optuna_url), data_ref, Listener())
    assert outcome.reason == "timeout"
    assert time.monotonic() - started < 4 + 60  # actors start slowly on a busy machine; trials never outlast it
    trials = stored_trials(optuna_url, spec)
    assert not any(trial.state == TrialState.RUNNING for trial in trials)
    assert not any(trial.state == TrialState.WAITING for trial in trials)  # a timed-out study is over

    # Started again, the study is still past its timeout: it ends at once, with no new trial.
    again = run_study(spec, open_storage(optuna_url), data_ref, Listener())
    assert again.reason == "timeout"
    assert len(stored_trials(optuna_url, spec)) == len(trials)


def test_a_stopped_study_fails_its_running_trials_and_reruns_them_when_resumed(optuna_url, data_ref):
    # Trials of 400 rounds (a small learning rate never stops early): slow enough that the study is still running
    # when the listener, asked every 0.5 s, says stop.
    space = {"learning_rate": {"type": "float", "low": 0.005, "high": 0.01}, "n_estimators": 400}
    spec = spec_for(space, n_trials=8, pruner="none")  # stopped once 3 have finished: the resumed run has 5 left
    stopped = run_study(spec, open_storage(optuna_url), data_ref, Listener(stop_after=3))
    assert stopped.reason == "stopped"
    trials = stored_trials(optuna_url, spec)
    assert not any(trial.state == TrialState.RUNNING for trial in trials)
    interrupted = [trial for trial in trials if trial.state == TrialState.FAIL]
    assert [trial.state for trial in trials].count(TrialState.WAITING) == len(interrupted)

    listener = Listener()
    resumed = run_study(spec, open_storage(optuna_url), data_ref, listener)
    assert resumed.reason == "finished"
    # The resumed study first told its listener of every trial the stopped run finished.
    assert [record.number for record in listener.resumed] == [t.number for t in trials if t.state.is_finished()]
    assert listener.counts[0] == stopped.counts
    trials = stored_trials(optuna_url, spec)
    assert finished_count(trials) == 8
    assert not any(trial.state in (TrialState.RUNNING, TrialState.WAITING) for trial in trials)
    for trial in interrupted:
        assert any(other.user_attrs.get("retry_of") == trial.number for other in trials)


def test_a_storage_with_a_heartbeat_gets_heartbeats_and_no_warning(sqlite_optuna_url, data_ref):
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        storage = optuna.storages.RDBStorage(sqlite_optuna_url, heartbeat_interval=1)
    beats: list[int] = []
    record = storage.record_heartbeat

    def counting(trial_id: int) -> None:
        beats.append(trial_id)
        record(trial_id)

    storage.record_heartbeat = counting
    # Slow trials (a tiny learning rate never stops early), so that heartbeats fall due while they run.
    space = {"learning_rate": {"type": "float", "low": 1e-4, "high": 2e-4}, "n_estimators": 1500}
    outcome = run_study(spec_for(space, n_trials=2, pruner="none"), storage, data_ref, Listener())
    assert outcome.counts["COMPLETE"] == 2
    assert beats


def test_the_in_memory_study_matches_what_the_database_holds(optuna_url, data_ref):
    storage = open_storage(optuna_url)
    spec = spec_for(strategy="grid", space={"max_depth": {"type": "int", "low": 3, "high": 5}, "n_estimators": 20})
    mirror = SingleWriterStorage(storage)
    study = optuna.create_study(
        storage=mirror, study_name=optuna_study_name(spec.study_id), sampler=make_sampler("grid", spec.space, 0)
    )
    for _ in range(2):
        with mirror.creating_trials():
            trial = study.ask(fixed_distributions=spec.space.distributions())
        trial.report(1.5, 10)
        trial.set_user_attr("rmse", 2.0)
        study.tell(trial, 1.0)
    study.enqueue_trial({"max_depth": 5}, user_attrs={"retry_of": 0})
    with mirror.creating_trials():
        retry = study.ask(fixed_distributions=spec.space.distributions())
    assert retry.params == {"max_depth": 5}

    retry.report(2.5, 10)
    study.tell(retry, state=TrialState.PRUNED)

    # Trials equal but for the times each side stamped with its own clock (one write apart).
    study_id = storage.get_study_id_from_name(study.study_name)
    ours, theirs = mirror.get_all_trials(study_id), storage.get_all_trials(study_id)
    assert [trial.state for trial in theirs] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    assert len(ours) == len(theirs)
    for mine, stored in zip(ours, theirs, strict=True):
        fields = ("number", "state", "values", "params", "distributions", "user_attrs", "system_attrs")
        for field in (*fields, "intermediate_values"):
            assert getattr(mine, field) == getattr(stored, field), field
        assert abs((mine.datetime_start - stored.datetime_start).total_seconds()) < 0.5
        assert abs((mine.datetime_complete - stored.datetime_complete).total_seconds()) < 0.5
    assert "grid_id" in theirs[0].system_attrs  # the sampler's attributes were written with the new trial
