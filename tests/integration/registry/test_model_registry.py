"""The MLflow-backed model registry, on SQLite and on PostgreSQL.

Every test runs against both backends. The PostgreSQL variant creates a throwaway database for MLflow (MLflow and
trainforge both keep an ``alembic_version`` table, so MLflow cannot share trainforge's schema; DESIGN §1) and
drops it afterwards. It is marked ``postgres`` and fails, never skips, when the server is down.

MLflow is imported inside fixtures, not at module level: MLflow 3 decides at import time whether to send usage
telemetry, and it stays quiet only when imported while a test runs (``PYTEST_CURRENT_TEST`` is set).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import holidays
import lightgbm
import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

import trainforge.registry
from tests.forecasters import hourly_history, small_forecaster
from tests.integration.conftest import copy_mlflow_template
from trainforge.errors import (
    InvalidInput,
    ModelVersionNotFound,
    PipelineError,
    SchemaOutOfDate,
    TrainforgeError,
)
from trainforge.models.forecaster import Forecaster
from trainforge.pipeline.result import Lineage, PipelineResult
from trainforge.registry import JobIdentity, RegisteredVersion, SemVer

PG_URL = os.environ.get("TRAINFORGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HYPERPARAMS = {"objective": "regression", "num_leaves": 7, "learning_rate": 0.1, "verbose": -1}


# --- backends -----------------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated MLflow backend for one test."""
    if request.param == "sqlite":
        database = copy_mlflow_template(request.getfixturevalue("mlflow_sqlite_template"), tmp_path / "mlflow.db")
        yield f"sqlite:///{database}"
    else:
        yield from throwaway_postgres_database(template=request.getfixturevalue("migrated_postgres_template"))


# MLflow creates its schema the first time a client opens a backend (~2 s of migrations). Each test copies a backend
# migrated once per session instead (for SQLite, the integration tests' mlflow_sqlite_template); the first-open path
# still runs, for the templates.


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    for uri in throwaway_postgres_database(template=None):
        open_mlflow_backend(uri)
        name = make_url(uri).database
        # CREATE DATABASE … TEMPLATE needs the template free of connections; MLflow's cached engine holds some.
        with psycopg.connect(admin_dsn(), autocommit=True) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        yield name


def open_mlflow_backend(uri: str) -> None:
    from mlflow import MlflowClient  # imported late: see the module docstring

    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()


def admin_dsn() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def throwaway_postgres_database(template: str | None) -> Iterator[str]:
    """Create a database for MLflow (a copy of ``template`` if given), yield its SQLAlchemy URL, drop it."""
    name = f"trainforge_test_mlflow_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    # No try/except: if the server is down this errors, and the test fails instead of skipping.
    with psycopg.connect(admin_dsn(), autocommit=True) as connection:
        connection.execute(create)
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn(), autocommit=True) as connection:
            # MLflow's cached engine still holds pooled connections to the database; FORCE ends them (PG 13+).
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory: MLflow falls back to ./mlruns when an artifact location is left implicit."""
    directory = tmp_path / "cwd"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def artifact_root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def registry(tracking_uri: str, artifact_root: Path, working_directory: Path) -> Any:
    return trainforge.registry.ModelRegistry(tracking_uri, str(artifact_root))


@pytest.fixture
def client(tracking_uri: str, registry: Any) -> Any:
    """A plain MLflow client on the same backend, to check what the registry wrote."""
    from mlflow import MlflowClient  # imported late: see the module docstring

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


# --- a tiny real model and its pipeline result --------------------------------------------------------------------


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return hourly_history()


@pytest.fixture(scope="module")
def booster(history: pd.DataFrame) -> Forecaster:
    """A small real forecaster (named ``booster`` for the many tests that only need some model to register)."""
    return small_forecaster(history)


def make_result(
    booster: Forecaster,
    *,
    data_hash: str = "a" * 64,
    feature_set: str = "load_hourly",
    hyperparams: dict[str, Any] | None = None,
) -> PipelineResult:
    # Forecasts of two steps from four hourly origins (overlapping, as the pipeline scores them) for two series.
    origins = pd.date_range("2024-02-01", periods=4, freq="h", tz="UTC")
    rows = [(series_id, origin, step) for series_id in ("meter-1", "meter-2") for origin in origins for step in (1, 2)]
    actual = np.linspace(10.0, 20.0, len(rows))
    test_predictions = pd.DataFrame(
        {
            "series_id": [series_id for series_id, _, _ in rows],
            "origin": [origin for _, origin, _ in rows],
            "timestamp": [origin + pd.Timedelta(hours=step) for _, origin, step in rows],
            "step": [step for _, _, step in rows],
            "actual": actual,
            "forecast": actual + 0.5,
            "baseline": actual - 2.0,
            "lo_80": actual - 1.0,
            "hi_80": actual + 2.0,
        }
    )
    lineage = Lineage(
        tenant_id="t1",
        feature_set=feature_set,
        target_variable="load_kw",
        start="2024-01-01T00:00:00+00:00",
        end="2024-02-02T23:00:00+00:00",
        row_count=1584,
        series_count=2,
        data_hash=data_hash,
        feature_columns=list(booster.spec.feature_columns),
    )
    return PipelineResult(
        model_family="lightgbm",
        model=booster,
        hyperparams=dict(HYPERPARAMS if hyperparams is None else hyperparams),
        metrics={
            "mae": 0.5,
            "rmse": 0.61,
            "mape": 0.031,
            "baseline_mae": 2.0,
            "per_step": [{"step": 1, "rows": 4, "mae": 0.4, "baseline_mae": 1.5}],
        },
        lineage=lineage,
        test_predictions=test_predictions,
        step_seconds={"load": 0.2, "fit": 1.5},
    )


def make_job(job_id: str, *, feature_set: str = "load_hourly") -> JobIdentity:
    return JobIdentity(
        job_id=job_id,
        tenant_id="t1",
        model_name="load",
        model_type="forecast",
        feature_set=feature_set,
        config={"horizon": 24, "target_variable": "load_kw", "enable_hpo": False},
    )


# --- registering --------------------------------------------------------------------------------------------------


def test_register_records_the_run_the_version_and_its_lineage(
    registry: Any, client: Any, booster: Forecaster, artifact_root: Path, working_directory: Path
) -> None:
    result = make_result(booster)
    version = registry.register_job_result(make_job("job-1"), result)

    assert version.model_id == "t1:load:1.0.0"
    assert version.semver == SemVer(1, 0, 0)
    assert (version.mlflow_model_name, version.mlflow_version, version.job_id) == ("t1.load", 1, "job-1")

    # The MLflow model version, with semver, model id and lineage as tags.
    tags = client.get_model_version("t1.load", "1").tags
    assert tags["semver"] == "1.0.0"
    assert tags["model_id"] == "t1:load:1.0.0"
    assert tags["job_id"] == "job-1"
    assert tags["run_id"] == version.run_id
    assert tags["feature_set"] == "load_hourly"
    assert tags["data_hash"] == "a" * 64
    assert (tags["data_start"], tags["data_end"]) == ("2024-01-01T00:00:00+00:00", "2024-02-02T23:00:00+00:00")
    assert (tags["row_count"], tags["series_count"]) == ("1584", "2")
    assert tags["feature_columns"] == json.dumps(booster.spec.feature_columns, separators=(",", ":"))
    assert tags["metrics"] == '{"baseline_mae":2.0,"mae":0.5,"mape":0.031,"rmse":0.61}'  # the scalars
    assert tags["refit_on_all"] == "false"
    assert tags["hyperparams"] == '{"learning_rate":0.1,"num_leaves":7,"objective":"regression","verbose":-1}'
    assert tags["pkg.lightgbm"] == lightgbm.__version__
    assert tags["pkg.holidays"] == holidays.__version__
    assert tags["pkg.pandas"] == pd.__version__
    assert tags["code_version"].startswith(("git:", "trainforge=="))
    assert dict(version.tags) == tags

    # The run: tags, parameters, every metric, finished.
    run = client.get_run(version.run_id)
    assert {key: run.data.tags[key] for key in ("job_id", "tenant_id", "model_type", "feature_set")} == {
        "job_id": "job-1",
        "tenant_id": "t1",
        "model_type": "forecast",
        "feature_set": "load_hourly",
    }
    assert run.data.params["num_leaves"] == "7"
    assert run.data.params["config.horizon"] == "24"
    assert run.data.metrics == {
        "mae": 0.5,
        "rmse": 0.61,
        "mape": 0.031,
        "baseline_mae": 2.0,
        "seconds.load": 0.2,
        "seconds.fit": 1.5,
        "mae_by_step": 0.4,
        "baseline_mae_by_step": 1.5,
    }
    [by_step] = client.get_metric_history(version.run_id, "mae_by_step")
    assert (by_step.step, by_step.value) == (1, 0.4)
    assert run.info.status == "FINISHED"

    # Artifacts: the plot and the test predictions on the run, all under the artifact root.
    experiment = client.get_experiment(version.experiment_id)
    assert experiment.name == "t1/load"
    assert experiment.artifact_location == (artifact_root / "t1" / "load").as_uri()
    assert [a.path for a in client.list_artifacts(version.run_id, "plots")] == [
        "plots/forecast_vs_actual.png",
        "plots/mae_by_step.png",
    ]
    run_artifacts = artifact_root / "t1" / "load" / version.run_id / "artifacts"
    assert (run_artifacts / "plots" / "forecast_vs_actual.png").read_bytes().startswith(b"\x89PNG")
    logged_predictions = pd.read_parquet(run_artifacts / "predictions" / "test_predictions.parquet")
    # Every horizon-th origin: back-to-back forecasts, each time once.
    every_other = result.test_predictions["origin"].isin(result.test_predictions["origin"].unique()[::2])
    pd.testing.assert_frame_equal(logged_predictions, result.test_predictions[every_other].reset_index(drop=True))
    assert logged_predictions["origin"].nunique() == 2
    assert version.logged_model_id is not None
    assert (artifact_root / "t1" / "load" / "models" / version.logged_model_id / "artifacts" / "MLmodel").is_file()

    # Nothing landed in the working directory (no ./mlruns).
    assert list(working_directory.iterdir()) == []


def test_registering_the_same_job_twice_returns_the_same_version(
    registry: Any, client: Any, booster: Forecaster
) -> None:
    first = registry.register_job_result(make_job("job-1"), make_result(booster))
    again = registry.register_job_result(make_job("job-1"), make_result(booster))

    assert again == first
    assert len(client.search_model_versions("name = 't1.load'")) == 1
    assert len(client.search_runs([first.experiment_id], "tags.job_id = 'job-1'")) == 1


def test_versions_follow_the_semver_rules(registry: Any, booster: Forecaster) -> None:
    steps = [
        ("job-1", make_job("job-1"), make_result(booster), "1.0.0"),
        ("same data and parameters", make_job("job-2"), make_result(booster), "1.0.1"),
        ("new data", make_job("job-3"), make_result(booster, data_hash="b" * 64), "1.1.0"),
        ("new hyperparameters", make_job("job-4"), make_result(booster, hyperparams={"num_leaves": 15}), "1.2.0"),
        (
            "new feature set",
            make_job("job-5", feature_set="load_15min"),
            make_result(booster, feature_set="load_15min"),
            "2.0.0",
        ),
    ]
    for case, job, result, expected in steps:
        assert str(registry.register_job_result(job, result).semver) == expected, case

    listed = registry.list_versions("t1", "load")
    assert [str(version.semver) for version in listed] == ["2.0.0", "1.2.0", "1.1.0", "1.0.1", "1.0.0"]
    assert [version.job_id for version in listed] == ["job-5", "job-4", "job-3", "job-2", "job-1"]
    fetched = registry.get_version("t1:load:1.1.0")
    assert fetched == listed[2]
    assert fetched.facts.data_hash == "b" * 64


def test_loaded_model_forecasts_like_the_original(registry: Any, booster: Forecaster, history: pd.DataFrame) -> None:
    version = registry.register_job_result(make_job("job-1"), make_result(booster))
    loaded = registry.load_model(version.model_id)

    table = loaded.predict(history, params={"horizon": 24, "quantiles": [0.1, 0.9]})
    pd.testing.assert_frame_equal(table, booster.forecast(history, 24, [0.1, 0.9]))
    assert loaded.metadata.get_input_schema().input_names() == ["timestamp", "series_id", "load_kw", "temperature"]
    assert loaded.unwrap_python_model().spec["history_steps"] == booster.spec.history_steps


def test_unknown_model_ids_are_not_found(registry: Any, booster: Forecaster) -> None:
    with pytest.raises(ModelVersionNotFound) as caught:  # nothing registered at all yet: MLflow's "does not exist"
        registry.get_version("t1:load:1.0.0")
    assert caught.value.field == "model_id"
    assert registry.list_versions("t1", "load") == []

    registry.register_job_result(make_job("job-1"), make_result(booster))
    for unknown in ("t1:load:9.9.9", "t1:other:1.0.0", "t2:load:1.0.0"):
        with pytest.raises(ModelVersionNotFound) as caught:
            registry.get_version(unknown)
        assert caught.value.field == "model_id"
        assert unknown in caught.value.message
    with pytest.raises(ModelVersionNotFound):
        registry.load_model("t1:load:1.0.1")
    with pytest.raises(InvalidInput) as malformed:
        registry.get_version("t1/load/1.0.0")
    assert malformed.value.field == "model_id"


# --- retries and failures -----------------------------------------------------------------------------------------


def test_a_retried_job_reuses_the_run_it_started(
    registry: Any, client: Any, booster: Forecaster, artifact_root: Path
) -> None:
    # The first attempt created its run, then its worker died before registering.
    experiment_id = client.create_experiment("t1/load", artifact_location=(artifact_root / "t1" / "load").as_uri())
    started = client.create_run(experiment_id, tags={"job_id": "job-7"})

    version = registry.register_job_result(make_job("job-7"), make_result(booster))

    assert version.run_id == started.info.run_id
    assert len(client.search_runs([experiment_id], "tags.job_id = 'job-7'")) == 1


def test_a_retry_with_other_hyperparameters_gets_a_fresh_run(
    registry: Any, client: Any, booster: Forecaster, artifact_root: Path
) -> None:
    # MLflow forbids changing a logged parameter, so the old run is retired rather than reused.
    experiment_id = client.create_experiment("t1/load", artifact_location=(artifact_root / "t1" / "load").as_uri())
    started = client.create_run(experiment_id, tags={"job_id": "job-7"})
    client.log_param(started.info.run_id, "num_leaves", "99")

    version = registry.register_job_result(make_job("job-7"), make_result(booster))

    assert version.run_id != started.info.run_id
    retired = client.get_run(started.info.run_id)
    assert "job_id" not in retired.data.tags
    assert retired.data.tags["superseded_job_id"] == "job-7"
    assert retired.info.status == "FAILED"
    assert [r.info.run_id for r in client.search_runs([experiment_id], "tags.job_id = 'job-7'")] == [version.run_id]


def test_versions_left_unnumbered_are_numbered_by_the_next_registration(
    registry: Any, client: Any, booster: Forecaster
) -> None:
    registry.register_job_result(make_job("job-1"), make_result(booster))
    second = registry.register_job_result(make_job("job-2"), make_result(booster, data_hash="c" * 64))
    # Simulate a worker that died between creating version 2 and numbering it.
    for key in ("semver", "model_id"):
        client.delete_model_version_tag("t1.load", str(second.mlflow_version), key)
    assert [v.model_id for v in registry.list_versions("t1", "load")] == ["t1:load:1.0.0"]

    # The next version is numbered from the chain, numbering the orphan on the way...
    third = registry.register_job_result(make_job("job-3"), make_result(booster, data_hash="c" * 64))
    assert third.model_id == "t1:load:1.1.1"
    assert [v.model_id for v in registry.list_versions("t1", "load")] == [
        "t1:load:1.1.1",
        "t1:load:1.1.0",
        "t1:load:1.0.0",
    ]
    # ...and the retried job gets that same version back, not a new one.
    retried = registry.register_job_result(make_job("job-2"), make_result(booster, data_hash="c" * 64))
    assert (retried.model_id, retried.mlflow_version) == ("t1:load:1.1.0", second.mlflow_version)
    assert len(client.search_model_versions("name = 't1.load'")) == 3


def test_two_attempts_of_one_job_racing_leave_one_version(
    registry: Any, client: Any, booster: Forecaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = registry.register_job_result(make_job("job-1"), make_result(booster))
    # The second attempt looked for the job's version just before the first attempt created it.
    real_lookup = registry._version_of_job
    lookups = iter([None])
    monkeypatch.setattr(registry, "_version_of_job", lambda *args: next(lookups, real_lookup(*args)))

    second = registry.register_job_result(make_job("job-1"), make_result(booster))

    assert second == first
    assert [int(v.version) for v in client.search_model_versions("name = 't1.load'")] == [1]


def test_mlflow_errors_leave_as_trainforge_errors(
    registry: Any, client: Any, booster: Forecaster, tmp_path: Path
) -> None:
    # MLflow refuses this parameter name; the caller sees InvalidInput, not MlflowException.
    with pytest.raises(InvalidInput, match="MLflow refused"):
        registry.register_job_result(make_job("job-1"), make_result(booster, hyperparams={"bad name!": 1}))
    (failed_run,) = client.search_runs([client.get_experiment_by_name("t1/load").experiment_id])
    assert failed_run.info.status == "FAILED"

    not_lightgbm = make_result(booster)
    not_lightgbm.model = object()
    with pytest.raises(PipelineError, match="only forecasters"):
        registry.register_job_result(make_job("job-2"), not_lightgbm)
    assert len(client.search_runs([failed_run.info.experiment_id])) == 1  # refused before writing anything

    # A backend that cannot be opened (MLflow would create the SQLite file's directory, but "a-file" is a file).
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    with pytest.raises(TrainforgeError) as caught:
        trainforge.registry.ModelRegistry(f"sqlite:///{not_a_directory / 'mlflow.db'}", str(tmp_path / "artifacts"))
    assert type(caught.value) is TrainforgeError
    assert caught.value.message.startswith("MLflow could not open the MLflow backend at sqlite:///")


def test_registered_version_is_a_plain_value(registry: Any, booster: Forecaster) -> None:
    version = registry.register_job_result(make_job("job-1"), make_result(booster))
    assert isinstance(version, RegisteredVersion)
    assert version.model_uri == "models:/t1.load/1"
    assert version.created_at.tzinfo is not None
    with pytest.raises(TypeError):
        version.tags["semver"] = "9.9.9"  # type: ignore[index]


def test_an_outdated_mlflow_schema_is_reported_with_the_upgrade_command(
    mlflow_sqlite_template: Path, tmp_path: Path
) -> None:
    database = copy_mlflow_template(mlflow_sqlite_template, tmp_path / "old-mlflow.db")
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = 'an-older-revision'")

    with pytest.raises(SchemaOutOfDate, match="mlflow db upgrade"):
        trainforge.registry.ModelRegistry(f"sqlite:///{database}", str(tmp_path / "artifacts"))


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql+psycopg://mlflow:s3cret@db:5432/mlflow", "postgresql+psycopg://mlflow:***@db:5432/mlflow"),
        ("https://user:s3cret@mlflow.example.com/", "https://user:***@mlflow.example.com/"),
        ("sqlite:////var/lib/trainforge/mlflow.db", "sqlite:////var/lib/trainforge/mlflow.db"),
    ],
)
def test_backend_uris_in_messages_hide_passwords(uri: str, shown: str) -> None:
    from trainforge.tracking.mlflow_backend import redacted_uri  # imported late: see the module docstring

    assert redacted_uri(uri) == shown
