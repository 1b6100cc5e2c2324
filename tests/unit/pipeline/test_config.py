"""The rules of a job's config that tie fields together: what a seasonal_naive job may and may not ask for."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trainforge.pipeline.config import TrainingConfig


def test_a_lightgbm_job_registers_its_model_unless_told_not_to():
    assert TrainingConfig().registers_model is True
    assert TrainingConfig(register_model=False).registers_model is False


def test_a_seasonal_naive_job_registers_nothing_by_default():
    config = TrainingConfig(model_family="seasonal_naive")
    assert config.registers_model is False
    assert TrainingConfig(model_family="seasonal_naive", register_model=False).registers_model is False


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"register_model": True}, "register_model", "nothing to register"),
        ({"enable_hpo": True}, "enable_hpo", "nothing to tune"),
        ({"hyperparams": {"n_estimators": 10}}, "hyperparams", "must be empty"),
    ],
)
def test_a_seasonal_naive_job_refuses_what_it_cannot_do_naming_the_field(fields, field, words):
    with pytest.raises(ValidationError) as refused:
        TrainingConfig(model_family="seasonal_naive", **fields)
    [error] = refused.value.errors()
    assert error["loc"] == (field,)
    assert words in error["msg"]


def test_an_unknown_model_family_is_refused():
    with pytest.raises(ValidationError) as refused:
        TrainingConfig(model_family="prophet")
    assert refused.value.errors()[0]["loc"] == ("model_family",)


@pytest.mark.parametrize(
    ("fields", "loc", "words"),
    [
        ({"holidays": {"country": "XX"}}, ("holidays",), "no holiday calendar for country 'XX'"),
        ({"holidays": {"country": "US", "subdivision": "ZZ"}}, ("holidays",), "subdivision 'ZZ'"),
        ({"timezone": "Mars/Olympus"}, ("timezone",), "unknown time zone"),
        ({"interval_levels": [80, 100]}, ("interval_levels",), "between 50 and 99"),
        ({"backtest": {"n_windows": 0}}, ("backtest", "n_windows"), "greater than or equal to 1"),
        ({"backtest": {"windows": 3}}, ("backtest", "windows"), "Extra inputs"),
        ({"enable_hpo": True, "tuning": {"objective": "backtest_mae"}}, ("tuning",), "needs config.backtest"),
    ],
)
def test_calendar_interval_and_backtest_fields_are_checked_naming_the_field(fields, loc, words):
    with pytest.raises(ValidationError) as refused:
        TrainingConfig(**fields)
    [error] = refused.value.errors()
    assert error["loc"] == loc
    assert words in error["msg"]


def test_forecast_defaults_and_the_accepted_calendar():
    config = TrainingConfig(
        holidays={"country": "MA"},
        timezone="Africa/Casablanca",
        interval_levels=[95, 80, 80],
        backtest={"n_windows": 4, "refit": False},
        enable_hpo=True,
        tuning={"objective": "backtest_mae"},
    )
    assert config.interval_levels == [80, 95]
    assert config.backtest.step_size is None and config.backtest.refit is False
    assert config.holidays.country == "MA" and config.holidays.subdivision is None
    default = TrainingConfig()
    assert default.refit_on_all is False and default.backtest is None
    assert default.holidays.country == "US" and default.timezone == "UTC"
    assert TrainingConfig(holidays=None).holidays is None


def test_a_study_with_the_backtest_objective_needs_a_backtest_naming_config():
    from trainforge.submission import OptimizeRequest

    fields = {"tenant_id": "t1", "study_name": "s", "model_type": "forecast", "feature_set": "f"}
    with pytest.raises(ValidationError) as refused:
        OptimizeRequest(**fields, objective="backtest_mae")
    [error] = refused.value.errors()
    assert error["loc"] == ("config",) and "needs config.backtest" in error["msg"]
    accepted = OptimizeRequest(**fields, objective="backtest_mae", config={"backtest": {"n_windows": 2}})
    assert accepted.objective == "backtest_mae" and accepted.config.backtest.n_windows == 2
