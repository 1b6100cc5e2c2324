"""The model-family registry and hyperparameter validation."""

from __future__ import annotations

import math

import pytest

from trainforge.errors import InvalidInput
from trainforge.models import FAMILIES, family_for, get_family, validate_hyperparams
from trainforge.models.lightgbm_forecast import PARAMS


def test_forecast_is_the_lightgbm_family_with_every_documented_parameter():
    family = get_family("lightgbm")
    assert family.name == "lightgbm"
    assert {
        "n_estimators",
        "learning_rate",
        "max_depth",
        "num_leaves",
        "subsample",
        "colsample_bytree",
        "min_child_samples",
        "reg_alpha",
        "reg_lambda",
    } <= set(family.params)


def test_defaults_are_returned_and_given_values_merged_over_them():
    merged = validate_hyperparams("lightgbm", {"n_estimators": 50, "learning_rate": 0.05})
    assert merged == {**get_family("lightgbm").defaults(), "n_estimators": 50, "learning_rate": 0.05}
    assert validate_hyperparams("lightgbm", None) == get_family("lightgbm").defaults()


def test_values_are_converted_to_their_declared_type():
    merged = validate_hyperparams("lightgbm", {"n_estimators": 120.0, "subsample": 1})
    assert merged["n_estimators"] == 120 and isinstance(merged["n_estimators"], int)
    assert merged["subsample"] == 1.0 and isinstance(merged["subsample"], float)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("n_trees", 10, "unknown hyperparameter 'n_trees'"),
        ("n_estimators", "100", "must be an integer, got str"),
        ("n_estimators", True, "got bool"),
        ("n_estimators", 10.5, "must be an integer"),
        ("n_estimators", 0, "must be in [1, 10000]"),
        ("learning_rate", 0.0, "must be in (0, 1]"),
        ("learning_rate", 1.5, "must be in (0, 1]"),
        ("subsample", -0.1, "(0, 1]"),
        ("reg_lambda", math.nan, "finite"),
        ("reg_alpha", math.inf, "finite"),
        ("num_leaves", 1, "[2, 131072]"),
        ("max_depth", {"type": "int", "low": 3, "high": 10}, "got dict"),
        ("learning_rate", "0.1", "must be a number, got str"),
    ],
)
def test_bad_values_name_the_field(name, value, words):
    with pytest.raises(InvalidInput) as caught:
        validate_hyperparams("lightgbm", {name: value})
    assert caught.value.field == f"config.hyperparams.{name}"
    assert words in caught.value.message


def test_anomaly_is_refused_until_it_is_built():
    with pytest.raises(InvalidInput) as caught:
        family_for("anomaly")
    assert caught.value.message == "model_type 'anomaly' is not available yet; only 'forecast' is"
    assert caught.value.field == "model_type"


def test_unknown_model_type_is_refused():
    with pytest.raises(InvalidInput) as caught:
        family_for("regression")
    assert caught.value.field == "model_type" and "'regression'" in caught.value.message


def test_unknown_family_is_refused_naming_the_config_field():
    with pytest.raises(InvalidInput) as caught:
        get_family("xgboost")
    assert caught.value.field == "config.model_family" and "'xgboost'" in caught.value.message


def test_seasonal_naive_is_a_registered_family_that_fits_nothing():
    family = family_for("forecast", "seasonal_naive")
    assert (family.name, family.fits_model, dict(family.params)) == ("seasonal_naive", False, {})
    assert get_family("lightgbm").fits_model


@pytest.mark.parametrize("family", FAMILIES.values(), ids=lambda f: f.name)
def test_every_family_declares_valid_defaults_and_search_ranges(family):
    for name, spec in family.params.items():
        assert spec.check(name, spec.default) == spec.default
        if spec.search is not None:
            low, high = spec.search
            spec.check(name, low if spec.kind == "float" else int(low))
            spec.check(name, high if spec.kind == "float" else int(high))
            assert low < high and (not spec.log or low > 0)


def test_default_search_space_uses_the_api_format():
    space = get_family("lightgbm").default_search_space()
    assert space["learning_rate"] == {"type": "float", "low": 0.01, "high": 0.3, "log": True}
    assert space["n_estimators"]["type"] == "int" and isinstance(space["n_estimators"]["low"], int)
    assert "early_stopping_rounds" not in space and set(space) <= set(PARAMS)
