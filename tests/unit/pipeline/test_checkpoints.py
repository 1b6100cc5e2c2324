"""Step checkpoints on disk: round trips, fingerprints, corrupt files and atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from trainforge.features import ParquetFeatureStore, generate_demo_load
from trainforge.models import lightgbm_forecast, validate_hyperparams
from trainforge.pipeline import checkpoints as checkpoints_module
from trainforge.pipeline.checkpoints import DataSnapshot, StepCheckpoints, inputs_fingerprint, stored_steps
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.load import data_hash, load_training_data

CONFIG = TrainingConfig(target_variable="load_kw", horizon=24)


@pytest.fixture
def store(tmp_path) -> ParquetFeatureStore:
    store = ParquetFeatureStore(tmp_path / "features")
    demo = generate_demo_load(n_series=2, periods=24 * 10, seed=1)
    store.write_frame("acme", "demo", demo, timestamp_col="timestamp", series_col="site_id")
    return store


@pytest.fixture
def snapshot(store) -> DataSnapshot:
    data = load_training_data(store, "acme", "demo", CONFIG)
    return DataSnapshot(data, data_hash(data.frame))


@pytest.fixture
def inputs(store) -> str:
    return inputs_fingerprint("acme", "demo", CONFIG, store.info("acme", "demo"))


def fitted_model():
    """A small booster with a categorical feature (its categories travel in the model text) and early stopping."""
    rng = np.random.default_rng(0)

    def rows(n):
        x = pd.DataFrame(
            {"series_id": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b"]), "x": rng.normal(size=n)}
        )
        return x, 3 * x["x"] + (x["series_id"] == "b") * 5 + rng.normal(0, 0.1, n)

    params = validate_hyperparams("lightgbm", {"n_estimators": 400, "learning_rate": 0.3, "num_leaves": 7})
    (x_train, y_train), (x_val, y_val), (x_test, _) = rows(600), rows(200), rows(100)
    return lightgbm_forecast.fit(x_train, y_train, x_val, y_val, params, 1), params, x_test


def levels(checkpoints: StepCheckpoints) -> list[str]:
    return [notice.level for notice in checkpoints.take_notices()]


def test_the_loaded_data_comes_back_identical(tmp_path, snapshot, inputs):
    StepCheckpoints(tmp_path / "job", inputs).save_data(snapshot)
    reader = StepCheckpoints(tmp_path / "job", inputs)
    restored = reader.load_data()
    pd.testing.assert_frame_equal(restored.data.frame, snapshot.data.frame)
    assert restored.digest == snapshot.digest == data_hash(restored.data.frame)
    assert (restored.data.target, restored.data.covariates, restored.data.frequency) == (
        "load_kw",
        ["temperature_c"],
        snapshot.data.frequency,
    )
    assert restored.data.info == snapshot.data.info
    assert reader.take_notices() == []


def test_the_fitted_booster_comes_back_with_its_best_iteration(tmp_path, inputs):
    model, params, x_test = fitted_model()
    assert 0 < model.best_iteration < 400  # early stopping fired, so the best iteration is not the last tree
    StepCheckpoints(tmp_path / "job", inputs).save_model(model, params=params, data_hash="d1")
    restored = StepCheckpoints(tmp_path / "job", inputs).load_model(params=params, data_hash="d1")
    assert restored.best_iteration == model.best_iteration
    assert restored.model_to_string() == model.model_to_string()
    np.testing.assert_array_equal(lightgbm_forecast.predict(restored, x_test), lightgbm_forecast.predict(model, x_test))


def test_nothing_stored_reads_as_none_without_a_notice(tmp_path, inputs):
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    assert checkpoints.load_data() is None
    assert checkpoints.load_model(params={}, data_hash="d") is None
    assert checkpoints.take_notices() == []
    assert stored_steps(tmp_path / "job") == []


def test_stored_steps_are_listed_in_pipeline_order(tmp_path, snapshot, inputs):
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    model, params, _ = fitted_model()
    checkpoints.save_model(model, params=params, data_hash=snapshot.digest)
    checkpoints.save_data(snapshot)
    assert stored_steps(tmp_path / "job") == ["load", "fit"]


def test_the_fingerprint_follows_the_config_and_the_feature_set_version(store):
    info = store.info("acme", "demo")
    same = inputs_fingerprint("acme", "demo", TrainingConfig(target_variable="load_kw", horizon=24), info)
    assert same == inputs_fingerprint("acme", "demo", CONFIG, info)
    assert inputs_fingerprint("acme", "demo", CONFIG.model_copy(update={"horizon": 12}), info) != same
    assert inputs_fingerprint("acme", "other", CONFIG, info) != same
    demo = generate_demo_load(n_series=2, periods=24 * 10, seed=2)
    replaced = store.write_frame("acme", "demo", demo, timestamp_col="timestamp", series_col="site_id")
    assert replaced.version == info.version + 1
    assert inputs_fingerprint("acme", "demo", CONFIG, replaced) != same


def test_a_checkpoint_of_other_inputs_is_ignored_then_overwritten(tmp_path, snapshot, inputs):
    StepCheckpoints(tmp_path / "job", inputs).save_data(snapshot)
    changed = StepCheckpoints(tmp_path / "job", "another fingerprint")
    assert changed.load_data() is None
    notices = changed.take_notices()
    assert [(n.step, n.level) for n in notices] == [("load", "INFO")]
    assert "made from other inputs" in notices[0].message
    changed.save_data(snapshot)
    assert changed.load_data() is not None
    assert StepCheckpoints(tmp_path / "job", inputs).load_data() is None  # the old inputs no longer match


def test_a_model_fitted_with_other_hyperparameters_or_data_is_ignored(tmp_path, inputs):
    model, params, _ = fitted_model()
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    checkpoints.save_model(model, params=params, data_hash="d1")
    assert checkpoints.load_model(params={**params, "num_leaves": 8}, data_hash="d1") is None
    assert checkpoints.load_model(params=params, data_hash="d2") is None
    assert StepCheckpoints(tmp_path / "job", "other inputs").load_model(params=params, data_hash="d1") is None
    assert levels(checkpoints) == ["INFO", "INFO"]
    assert checkpoints.load_model(params=params, data_hash="d1") is not None


@pytest.mark.parametrize(
    ("damaged", "damage"),
    [
        ("load.parquet", lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])),
        ("load.parquet", lambda path: path.unlink()),
        ("load.json", lambda path: path.write_text('{"format": 1, "fingerp')),
        ("load.json", lambda path: path.write_text("[]")),
    ],
    ids=["truncated data", "missing data", "truncated manifest", "not a manifest"],
)
def test_a_corrupt_or_partial_checkpoint_is_ignored_with_a_warning(tmp_path, snapshot, inputs, damaged, damage):
    StepCheckpoints(tmp_path / "job", inputs).save_data(snapshot)
    damage(tmp_path / "job" / damaged)
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    assert checkpoints.load_data() is None
    notices = checkpoints.take_notices()
    assert [(n.step, n.level) for n in notices] == [("load", "WARNING")]
    assert "running the step again" in notices[0].message
    checkpoints.save_data(snapshot)  # the step ran again: its new checkpoint replaces the broken one
    assert checkpoints.load_data() is not None


def test_a_model_text_that_does_not_match_its_manifest_is_ignored(tmp_path, inputs):
    model, params, _ = fitted_model()
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    checkpoints.save_model(model, params=params, data_hash="d1")
    text = tmp_path / "job" / "fit.txt"
    text.write_text(text.read_text().replace("Tree=0", "Tree=9", 1))
    assert checkpoints.load_model(params=params, data_hash="d1") is None
    assert levels(checkpoints) == ["WARNING"]


def test_writes_leave_no_temporary_files(tmp_path, snapshot, inputs):
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    model, params, _ = fitted_model()
    for _ in range(2):  # the second round replaces every file
        checkpoints.save_data(snapshot)
        checkpoints.save_model(model, params=params, data_hash=snapshot.digest)
    assert sorted(os.listdir(tmp_path / "job")) == ["fit.json", "fit.txt", "load.json", "load.parquet"]


def test_a_write_that_fails_midway_keeps_the_old_checkpoint_and_leaves_no_temporary_file(
    tmp_path, snapshot, inputs, monkeypatch
):
    StepCheckpoints(tmp_path / "job", inputs).save_data(snapshot)
    before = {name: (tmp_path / "job" / name).read_bytes() for name in os.listdir(tmp_path / "job")}

    def disk_full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints_module.os, "fsync", disk_full)
    checkpoints = StepCheckpoints(tmp_path / "job", inputs)
    checkpoints.save_data(snapshot)  # never raises: the job goes on without this checkpoint
    notices = checkpoints.take_notices()
    assert [(n.step, n.level) for n in notices] == [("load", "WARNING")]
    assert "No space left on device" in notices[0].message
    monkeypatch.undo()
    assert {name: (tmp_path / "job" / name).read_bytes() for name in os.listdir(tmp_path / "job")} == before
    assert checkpoints.load_data() is not None


def test_a_directory_that_cannot_be_created_only_costs_a_warning(tmp_path, snapshot, inputs):
    (tmp_path / "taken").write_text("a file where the checkpoint directory should be")
    checkpoints = StepCheckpoints(tmp_path / "taken" / "job", inputs)
    checkpoints.save_data(snapshot)
    assert levels(checkpoints) == ["WARNING"]
    assert checkpoints.load_data() is None
