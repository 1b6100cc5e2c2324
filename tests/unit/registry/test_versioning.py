"""Version rules (DESIGN §5), model ids, and the lineage tags the next version is derived from."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from trainforge.errors import InvalidInput
from trainforge.pipeline.result import Lineage, PipelineResult
from trainforge.registry import (
    Bump,
    JobIdentity,
    ModelId,
    SemVer,
    VersionFacts,
    classify_change,
    format_model_id,
    next_version,
    parse_model_id,
)
from trainforge.registry._lineage import facts_from_tags, facts_of, facts_to_tags, run_params, version_tags

PREVIOUS = VersionFacts(
    model_family="lightgbm",
    feature_set="load_hourly",
    feature_columns=("temperature", "hour", "weekday"),
    data_hash="a" * 64,
    hyperparams={"num_leaves": 31, "learning_rate": 0.05},
    data_start="2024-01-01T00:00:00+00:00",
    data_end="2024-06-30T23:00:00+00:00",
    semver=SemVer(1, 4, 2),
)


def changed(**changes: object) -> VersionFacts:
    """The previous facts with some changed, as a training not registered yet."""
    return dataclasses.replace(PREVIOUS, semver=None, **changes)


# --- SemVer -------------------------------------------------------------------------------------------------------


def test_semver_parses_formats_and_orders_numerically() -> None:
    assert SemVer.parse("1.2.3") == SemVer(1, 2, 3)
    assert str(SemVer(10, 0, 7)) == "10.0.7"
    assert SemVer.parse("1.10.0") > SemVer.parse("1.9.9") > SemVer.parse("1.9.0") > SemVer.parse("0.99.99")
    assert sorted([SemVer(2, 0, 0), SemVer(1, 0, 1), SemVer(1, 1, 0)]) == [
        SemVer(1, 0, 1),
        SemVer(1, 1, 0),
        SemVer(2, 0, 0),
    ]


@pytest.mark.parametrize("text", ["", "1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.-2.3", "1.2.x", " 1.2.3", None])
def test_semver_parse_refuses_malformed_text(text: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        SemVer.parse(text, field="semver")  # type: ignore[arg-type]
    assert caught.value.field == "semver"


# --- next_version: the rules of DESIGN §5 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "current", "expected"),
    [
        ("same training registered again", changed(), "1.4.3"),
        ("new data (hash)", changed(data_hash="b" * 64), "1.5.0"),
        ("new data window", changed(data_end="2024-07-31T23:00:00+00:00"), "1.5.0"),
        ("new hyperparameter value", changed(hyperparams={"num_leaves": 63, "learning_rate": 0.05}), "1.5.0"),
        ("added hyperparameter", changed(hyperparams={**PREVIOUS.hyperparams, "max_depth": 6}), "1.5.0"),
        ("model family", changed(model_family="xgboost_forecast"), "2.0.0"),
        ("feature set", changed(feature_set="load_15min"), "2.0.0"),
        ("feature added to the schema", changed(feature_columns=(*PREVIOUS.feature_columns, "holiday")), "2.0.0"),
        ("schema reordered", changed(feature_columns=("hour", "temperature", "weekday")), "2.0.0"),
        ("schema change beats new data", changed(feature_set="load_15min", data_hash="c" * 64), "2.0.0"),
    ],
)
def test_next_version_bumps_by_the_largest_change(case: str, current: VersionFacts, expected: str) -> None:
    assert str(next_version(PREVIOUS, current)) == expected, case


def test_first_version_is_1_0_0() -> None:
    assert next_version(None, changed(model_family="anything")) == SemVer(1, 0, 0)


def test_hyperparameters_compare_by_value_not_by_python_type() -> None:
    # What the pipeline hands over (numpy scalars, tuples) must equal what comes back from a JSON tag.
    current = changed(hyperparams={"learning_rate": np.float64(0.05), "num_leaves": np.int64(31)})
    assert classify_change(PREVIOUS, current) is Bump.PATCH
    assert classify_change(changed(hyperparams={"bins": (1, 2)}), changed(hyperparams={"bins": [1, 2]})) is Bump.PATCH


def test_next_version_needs_the_previous_semver() -> None:
    with pytest.raises(ValueError, match="semver"):
        next_version(changed(), changed())


@pytest.mark.parametrize(
    ("version", "bump", "expected"),
    [("1.4.2", Bump.MAJOR, "2.0.0"), ("1.4.2", Bump.MINOR, "1.5.0"), ("1.4.2", Bump.PATCH, "1.4.3")],
)
def test_bump_resets_the_lower_parts(version: str, bump: Bump, expected: str) -> None:
    assert str(SemVer.parse(version).bump(bump)) == expected


# --- model ids ----------------------------------------------------------------------------------------------------


def test_model_id_round_trips() -> None:
    model_id = format_model_id("tenant-123", "load_forecast", SemVer(2, 1, 0))
    assert model_id == "tenant-123:load_forecast:2.1.0"
    assert parse_model_id(model_id) == ModelId("tenant-123", "load_forecast", SemVer(2, 1, 0))
    assert str(parse_model_id(model_id)) == model_id
    assert format_model_id("t1", "load", "1.0.0") == "t1:load:1.0.0"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "t1:load",
        "t1:load:1.0",
        "t1:load:1.0.0:extra",
        "t1::1.0.0",
        ":load:1.0.0",
        "t.1:load:1.0.0",  # a dot in the tenant would make "{tenant}.{model}" ambiguous
        "t1:../etc:1.0.0",
        "t1:load:01.0.0",
        "t1:load:latest",
        None,
        42,
    ],
)
def test_parse_model_id_refuses_garbage_naming_the_field(garbage: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_model_id(garbage)  # type: ignore[arg-type]
    assert caught.value.field == "model_id"


def test_format_model_id_refuses_unsafe_names() -> None:
    with pytest.raises(InvalidInput) as caught:
        format_model_id("t1", "load/../x", SemVer(1, 0, 0))
    assert caught.value.field == "model_name"


# --- lineage tags: what the next version is derived from ----------------------------------------------------------


def make_job(**changes: object) -> JobIdentity:
    fields = {
        "job_id": "job-1",
        "tenant_id": "t1",
        "model_name": "load",
        "model_type": "forecast",
        "feature_set": "load_hourly",
        "config": {"horizon": 24, "features": ["temperature"], "hyperparams": {}},
    }
    return JobIdentity(**{**fields, **changes})  # type: ignore[arg-type]


def make_result(hyperparams: dict[str, object]) -> PipelineResult:
    lineage = Lineage(
        tenant_id="t1",
        feature_set="load_hourly",
        target_variable="load_kw",
        start="2024-01-01T00:00:00+00:00",
        end="2024-01-31T23:00:00+00:00",
        row_count=1488,
        series_count=2,
        data_hash="d" * 64,
        feature_columns=["temperature", "hour"],
    )
    return PipelineResult(
        model_family="lightgbm",
        model=object(),
        hyperparams=hyperparams,
        metrics={"mae": 1.5, "rmse": float("nan")},
        lineage=lineage,
        test_predictions=pd.DataFrame(),
    )


def test_version_facts_survive_the_round_trip_through_tags() -> None:
    assert facts_from_tags(facts_to_tags(PREVIOUS)) == PREVIOUS
    unregistered = changed()
    assert facts_from_tags(facts_to_tags(unregistered)) == unregistered


def test_version_tags_carry_the_lineage_and_the_facts() -> None:
    result = make_result({"num_leaves": np.int64(15), "learning_rate": 0.1})
    tags = version_tags(make_job(study_id="study-9"), result, run_id="r1", experiment_id="7", logged_model_id="m-1")
    assert tags["job_id"] == "job-1"
    assert tags["run_id"] == "r1"
    assert tags["row_count"] == "1488"
    assert tags["series_count"] == "2"
    assert tags["study_id"] == "study-9"
    assert tags["feature_columns"] == '["temperature","hour"]'
    assert tags["hyperparams"] == '{"learning_rate":0.1,"num_leaves":15}'
    assert {"pkg.lightgbm", "pkg.pandas", "pkg.numpy", "pkg.mlflow", "pkg.trainforge", "pkg.python"} <= set(tags)
    assert tags["code_version"].startswith(("git:", "trainforge=="))
    assert all(isinstance(value, str) for value in tags.values())
    assert facts_from_tags(tags) == facts_of(make_job(), result)


def test_a_version_tagged_with_the_familys_former_name_is_the_same_family() -> None:
    # Versions registered before the family had one name say "lightgbm_forecast": retraining one is no major bump.
    tags = facts_to_tags(PREVIOUS) | {"model_family": "lightgbm_forecast"}
    former = facts_from_tags(tags)
    assert former.model_family == "lightgbm"
    assert next_version(former, changed(data_hash="b" * 64)) == SemVer(1, 5, 0)


def test_tags_not_written_by_trainforge_give_no_facts() -> None:
    assert facts_from_tags({"mlflow.source.type": "LOCAL"}) is None


def test_run_params_flatten_config_and_stay_within_mlflow_limits() -> None:
    params = run_params(make_job(config={"horizon": 24, "series": ["s" * 100] * 100}), make_result({"lr": 0.1}))
    assert params["lr"] == "0.1"
    assert params["config.horizon"] == "24"
    assert params["model_family"] == "lightgbm"
    assert len(params["config.series"]) == 6000
    assert params["config.series"].endswith("(truncated)")


@pytest.mark.parametrize(
    ("field", "value"),
    [("job_id", "x' OR '1'='1"), ("job_id", ""), ("tenant_id", "a.b"), ("model_name", "../x"), ("feature_set", "")],
)
def test_job_identity_refuses_unsafe_values(field: str, value: str) -> None:
    # These end up in MLflow filter strings and artifact paths.
    with pytest.raises(InvalidInput) as caught:
        make_job(**{field: value})
    assert caught.value.field == field


def test_importing_the_registry_package_does_not_import_mlflow() -> None:
    # The API parses model ids on every request; MLflow costs seconds to import.
    code = "import sys, trainforge.registry; sys.exit('mlflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
