"""What a training job asks for: the ``config`` object of ``POST /ai/training/jobs/start``.

Plain pydantic, no framework: the API validates requests with it, the worker re-reads it from the job row, and the
pipeline runs from it. Three parts, each defined once:

- :class:`TrainingSetup`: the data window, target, horizon, splits, covariates, series and model family (what a
  study's ``config`` takes too);
- :class:`TuningConfig`: how a study searches (trials, sampler, pruner, parallelism, timeout, seed); the optimize
  request takes the same fields at its top level, a job with ``enable_hpo`` as ``config.tuning``;
- :class:`TrainingConfig`: a job's whole ``config``: the setup, ``hyperparams``, ``enable_hpo`` and ``tuning``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from trainforge.errors import as_value_error
from trainforge.fields import (
    LABEL_RULE,
    MAX_HYPERPARAMS,
    ColumnName,
    HyperparamName,
    HyperparamValue,
    SeriesId,
)
from trainforge.models.families import FAMILIES, get_family

ModelType = Literal["forecast", "anomaly"]
# Optuna samplers a study may use: the one list (trainforge.hpo.samplers builds one sampler for each).
OptimizationStrategy = Literal["tpe", "random", "grid", "cmaes", "qmc"]
# Optuna pruners a study may use (trainforge.hpo.coordinator builds them).
PrunerName = Literal["median", "successive_halving", "none"]
# What a study minimises: the validation MAE of one fit, or the mean MAE of the backtest windows.
Objective = Literal["val_mae", "backtest_mae"]
MAX_HPO_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_HPO_SEED = 2**32 - 1  # numpy's seed range, which Optuna's samplers use
MAX_TRIALS = 10_000
# Dates outside this window are typos (or attacks on date arithmetic), not training windows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class TuningConfig(BaseModel):
    """How a study searches: ``config.tuning`` of a job with ``enable_hpo``, and the top level of an optimize
    request."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    n_trials: int = Field(
        default=50,
        ge=1,
        le=MAX_TRIALS,
        description="How many trials the study finishes (complete or pruned; failed ones are retried and do not "
        "count).",
    )
    optimization_strategy: OptimizationStrategy = Field(
        default="tpe",
        description="The Optuna sampler: tpe, random, grid (each point of the space once; float parameters need a "
        "step), cmaes or qmc.",
    )
    pruner: PrunerName = Field(
        default="median",
        description="Stops unpromising trials early on their validation MAE by boosting round: median (below the "
        "median of earlier trials at the same round), successive_halving (asynchronous successive halving) or "
        "none.",
    )
    parallel_jobs: int = Field(default=2, ge=1, le=64, description="How many trials run at the same time on Ray.")
    timeout_seconds: float | None = Field(
        default=None,
        ge=1,
        le=MAX_HPO_TIMEOUT_SECONDS,
        description="End the study this many seconds after its first start (at most 7 days; restarts do not reset "
        "it); trials still running then are failed and the best finished one is fitted. Default: no limit.",
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_HPO_SEED,
        description="Seed of the sampler, so the same study proposes the same trials. Default: unseeded.",
    )
    objective: Objective = Field(
        default="val_mae",
        description="What the study minimises: val_mae (the validation MAE of a fit on the training split, over "
        "every lead) or backtest_mae (the mean MAE of the config.backtest windows, which must then be set and lie "
        "in the validation period; refit is not applied to trials).",
    )


class BacktestConfig(BaseModel):
    """Rolling-origin evaluation before the test split (``config.backtest``), as statsforecast's
    ``cross_validation``: ``n_windows`` origins ``step_size`` steps apart, the last one ``horizon`` steps before the
    test split starts, each forecast for leads 1..horizon."""

    model_config = ConfigDict(extra="forbid")

    n_windows: int = Field(default=3, ge=1, le=100, description="How many forecast origins (windows).")
    step_size: int | None = Field(
        default=None, ge=1, le=100_000, description="Steps between two origins. Default: the horizon."
    )
    refit: bool = Field(
        default=True,
        description="Refit the model on everything before each origin (with the rounds early stopping chose); "
        "false: the model fitted on the training split forecasts every window, which must then lie in the "
        "validation period.",
    )


class HolidayConfig(BaseModel):
    """The public holidays of the ``is_holiday`` feature (``config.holidays``), from the ``holidays`` package."""

    model_config = ConfigDict(extra="forbid")

    country: str = Field(default="US", min_length=2, max_length=3, description="ISO 3166 country code (US, MA, DE).")
    subdivision: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="State or province code within it (CA, BY). Default: none.",
    )

    @model_validator(mode="after")
    def _known_calendar(self) -> HolidayConfig:
        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision, years=2000)
        except NotImplementedError:
            raise ValueError(
                f"no holiday calendar for country {self.country!r}"
                + (f" and subdivision {self.subdivision!r}" if self.subdivision else "")
                + "; see https://holidays.readthedocs.io for the codes"
            ) from None
        return self


class TrainingSetup(BaseModel):
    """What to train on and how to judge it: the data window, the target, the split, covariates, series and the
    model family. A study's ``config`` is one of these; a job's :class:`TrainingConfig` adds the
    hyperparameters and the tuning."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start_date: datetime | None = Field(
        default=None, description="First timestamp of training data (inclusive). Default: the earliest."
    )
    end_date: datetime | None = Field(
        default=None, description="Last timestamp of training data (exclusive). Default: the latest."
    )
    target_variable: str = Field(default="load_kw", min_length=1, max_length=128, description="Column to forecast.")
    horizon: int = Field(
        default=24,
        ge=1,
        le=720,
        description="How many steps ahead the model forecasts: every lead 1..horizon from each origin, with one "
        "global model that takes the lead as a feature.",
    )
    model_family: str = Field(
        default="lightgbm",
        description="What to fit: "
        + "; ".join(f"{family.name} ({family.summary})" for family in FAMILIES.values())
        + ". A family that fits nothing takes no hyperparameters, no enable_hpo, and needs register_model false.",
        json_schema_extra={"enum": list(FAMILIES)},
    )
    register_model: bool | None = Field(
        default=None,
        description="Register the fitted model as a new version in the model registry (and track the run in "
        "MLflow). False: an evaluation run: the job ends completed with its metrics and no model_id. Default: "
        "true, except for a model family that fits nothing (seasonal_naive), which has no model to register.",
    )
    validation_split: float = Field(
        default=0.2, gt=0, lt=0.5, description="Fraction of the time range (after train) used for validation."
    )
    test_split: float = Field(
        default=0.1,
        gt=0,
        lt=0.5,
        description="Fraction of the time range (the most recent) held out for test.",
    )
    features: list[ColumnName] | None = Field(
        default=None,
        max_length=256,
        description="Covariate columns to use (lagged by horizon). Default: every numeric column but the target.",
    )
    series: list[SeriesId] | None = Field(
        default=None,
        max_length=10_000,
        description=f"Only these series ids ({LABEL_RULE}; at most 256 characters). Default: every series.",
    )
    seasonal_period: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Season length in steps for the seasonal-naive baseline. Default: the better of one day and "
        "one week at the data's frequency (24 or 168 for hourly data), chosen on the validation split.",
    )
    refit_on_all: bool = Field(
        default=False,
        description="Fit the registered model on every row, the test split included (after the test metrics are "
        "taken from the model fitted on train + validation). Recorded in the version's lineage.",
    )
    backtest: BacktestConfig | None = Field(
        default=None, description="Rolling-origin backtest before the test split. Default: none."
    )
    interval_levels: list[int] = Field(
        default_factory=lambda: [80, 95],
        max_length=10,
        description="Levels (percent, 50-99) of the conformal prediction intervals the model is calibrated for and "
        "whose test coverage is reported as metrics coverage_<level>. Any quantile can be asked of the model.",
    )
    holidays: HolidayConfig | None = Field(
        default_factory=HolidayConfig,
        description="Holiday calendar of the is_holiday feature; null for none. Default: the United States.",
    )
    timezone: str = Field(
        default="UTC",
        max_length=64,
        description="IANA time zone of the series (Europe/Paris, America/New_York): calendar features and holidays "
        "are computed on the local time there, not on UTC.",
    )

    @field_validator("start_date", "end_date")
    @classmethod
    def _plausible_date(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive timestamps are UTC
        if not EARLIEST <= aware < LATEST:
            raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
        start = info.data.get("start_date")  # fields validate in order: start_date is done (or failed) by now
        if info.field_name == "end_date" and start is not None and aware <= start:
            raise ValueError("end_date must be after start_date")
        return aware

    @field_validator("interval_levels")
    @classmethod
    def _interval_levels(cls, value: list[int]) -> list[int]:
        if any(not 50 <= level <= 99 for level in value):
            raise ValueError("every level must be between 50 and 99 (percent)")
        return sorted(set(value))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris") from None
        return value

    @field_validator("model_family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        return as_value_error(lambda name, _field: get_family(name).name, value, "model_family")

    @field_validator("register_model")
    @classmethod
    def _registrable(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        family = _family_of(info)
        if value and family is not None and not family.fits_model:
            raise ValueError(f"must be false with model_family {family.name}: it fits nothing to register")
        return value

    @field_validator("test_split")
    @classmethod
    def _leaves_training_data(cls, value: float, info: ValidationInfo) -> float:
        validation = info.data.get("validation_split")
        if validation is not None and validation + value >= 0.8:
            raise ValueError("validation_split + test_split must leave at least 20% of the data for training")
        return value

    @property
    def fits_model(self) -> bool:
        """Whether the job's model family fits a model (seasonal_naive only evaluates its forecast)."""
        return get_family(self.model_family).fits_model

    @property
    def registers_model(self) -> bool:
        """Whether the job ends by registering a model version (see ``register_model``)."""
        if self.register_model is not None:
            return self.register_model
        return self.fits_model


class TrainingConfig(TrainingSetup):
    """A training job's ``config``: the :class:`TrainingSetup`, the hyperparameters, and (with ``enable_hpo``)
    how to tune them."""

    enable_hpo: bool = Field(default=False, description="Tune hyperparameters with Optuna before the final fit.")
    hyperparams: dict[HyperparamName, HyperparamValue] = Field(
        default_factory=dict,
        max_length=MAX_HYPERPARAMS,
        description="Fixed hyperparameters of the model family (e.g. n_estimators, learning_rate, max_depth); "
        "with enable_hpo, a search space {name: {type, low, high, log, step, choices}}. At most "
        f"{MAX_HYPERPARAMS}; finite numbers only.",
    )
    tuning: TuningConfig = Field(
        default_factory=TuningConfig, description="With enable_hpo: how the study searches the space."
    )
    n_trials: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRIALS,
        exclude=True,  # folded into tuning.n_trials: a dump (the stored config) has it in one place
        description="The specification's shorthand for tuning.n_trials (give one or the other).",
    )

    @field_validator("enable_hpo", "hyperparams")
    @classmethod
    def _something_to_fit(cls, value: Any, info: ValidationInfo) -> Any:
        family = _family_of(info)
        if value and family is not None and not family.fits_model:
            if info.field_name == "enable_hpo":
                raise ValueError(f"must be false with model_family {family.name}: it has nothing to tune")
            raise ValueError(f"must be empty with model_family {family.name} (its season is seasonal_period)")
        return value

    @model_validator(mode="after")
    def _one_trial_count(self) -> TrainingConfig:
        """Fold the spec's ``n_trials`` shorthand into ``tuning`` (so the stored config has one place for it)."""
        if self.n_trials is None:
            return self
        if "n_trials" in self.tuning.model_fields_set and self.tuning.n_trials != self.n_trials:
            raise ValueError("n_trials and tuning.n_trials disagree: give one of them")
        self.tuning = self.tuning.model_copy(update={"n_trials": self.n_trials})
        self.n_trials = None
        return self

    @field_validator("tuning")
    @classmethod
    def _objective_has_backtest(cls, value: TuningConfig, info: ValidationInfo) -> TuningConfig:
        if info.data.get("enable_hpo"):  # backtest and enable_hpo validate before tuning
            check_objective(value.objective, info.data.get("backtest"))
        return value


def check_objective(objective: str, backtest: BacktestConfig | None) -> None:
    """Refuse a study objective its setup cannot compute (``backtest_mae`` without ``config.backtest``)."""
    if objective == "backtest_mae" and backtest is None:
        raise ValueError("objective backtest_mae needs config.backtest (the windows to score trials on)")


def _family_of(info: ValidationInfo):
    """The family named by the model being validated (None when model_family itself failed validation)."""
    name = info.data.get("model_family")
    return FAMILIES.get(name) if isinstance(name, str) else None
