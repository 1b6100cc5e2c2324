"""What a training job asks for: the ``config`` object of ``POST /ai/training/jobs/start``.

Plain pydantic, no framework: the API validates requests with it, the worker re-reads it from the job row, and the
pipeline runs from it.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

ModelType = Literal["forecast", "anomaly"]
# What a forecast job fits: LightGBM (the default), or nothing at all: seasonal_naive evaluates the baseline alone,
# the cheapest job there is (a data check, a benchmark of the queue, the yardstick for a new feature set).
ModelFamilyName = Literal["lightgbm", "seasonal_naive"]
# Optuna samplers a study may use (trainforge.hpo.samplers builds them; its STRATEGIES is the same list).
OptimizationStrategy = Literal["tpe", "random", "grid", "cmaes", "qmc", "gp"]
MAX_HPO_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_HPO_SEED = 2**32 - 1  # numpy's seed range, which Optuna's samplers use
# Dates outside this window are typos (or attacks on date arithmetic), not training windows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_HYPERPARAMS = 64
# A value is a number or (with HPO) a search space {type, low, high, log, step, choices: [...]}: 3 levels deep.
MAX_HYPERPARAM_DEPTH = 3
HYPERPARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
LABEL_RULE = "letters and digits of any script, spaces and _ . : / @ + -"
_LABEL_PUNCTUATION = frozenset(" _.:/@+-")


def check_label(value: str) -> str:
    """Return ``value`` if it is label text (:data:`LABEL_RULE`), else raise ValueError.

    Series ids and tags are stored and compared, never built into paths or SQL; still, they are held to visible
    letters, digits and a little punctuation, so that quotes, control and format characters (NUL, RTL overrides,
    zero-width spaces), symbols and lone surrogates never get in.
    """
    for char in value:
        if char not in _LABEL_PUNCTUATION and unicodedata.category(char)[0] not in "LN":
            raise ValueError(f"may only contain {LABEL_RULE}; {char!a} is not allowed")
    return value


def _finite_and_shallow(value: Any) -> Any:
    stack = [(value, 1)]
    while stack:  # iterative: a deeply nested value must not exhaust the stack of the validator itself
        item, depth = stack.pop()
        if depth > MAX_HYPERPARAM_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_HYPERPARAM_DEPTH} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must be a finite number (NaN and Infinity are refused)")
        if isinstance(item, str) and not item.isprintable():  # e.g. a NUL, which PostgreSQL's JSONB refuses
            raise ValueError("text must be printable (no control or format characters)")
        if isinstance(item, dict):
            stack.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return value


ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
SeriesId = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(check_label)]
HyperparamName = Annotated[str, StringConstraints(pattern=HYPERPARAM_NAME_PATTERN)]
HyperparamValue = Annotated[Any, AfterValidator(_finite_and_shallow)]


class TrainingConfig(BaseModel):
    """How to train: the data window, the target, the split and the hyperparameters."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start_date: datetime | None = Field(
        default=None, description="First timestamp of training data (inclusive). Default: the earliest."
    )
    end_date: datetime | None = Field(
        default=None, description="Last timestamp of training data (exclusive). Default: the latest."
    )
    target_variable: str = Field(default="load_kw", min_length=1, max_length=128, description="Column to forecast.")
    horizon: int = Field(
        default=24, ge=1, le=720, description="How many steps ahead the model forecasts (direct strategy)."
    )
    model_family: ModelFamilyName = Field(
        default="lightgbm",
        description="What to fit: lightgbm (a global LightGBM model over every series), or seasonal_naive (nothing "
        "is fitted: the job evaluates the seasonal-naive baseline alone; it takes no hyperparameters, no "
        "enable_hpo, and needs register_model false).",
    )
    register_model: bool | None = Field(
        default=None,
        description="Register the fitted model as a new version in the model registry (and track the run in "
        "MLflow). False: an evaluation run: the job ends completed with its metrics and no model_id. Default: "
        "true, except with model_family seasonal_naive, which has no model to register.",
    )
    enable_hpo: bool = Field(default=False, description="Tune hyperparameters with Optuna before the final fit.")
    n_trials: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="With enable_hpo: how many trials the study finishes (complete or pruned; failed ones do not "
        "count).",
    )
    optimization_strategy: OptimizationStrategy = Field(
        default="tpe",
        description="With enable_hpo: the Optuna sampler: tpe, random, grid (each point of the space once; float "
        "parameters need a step), cmaes, qmc, or gp (needs PyTorch installed).",
    )
    parallel_jobs: int = Field(
        default=2, ge=1, le=64, description="With enable_hpo: how many trials run at the same time on Ray."
    )
    timeout_seconds: float | None = Field(
        default=None,
        ge=1,
        le=MAX_HPO_TIMEOUT_SECONDS,
        description="With enable_hpo: end the study this many seconds after its first start (restarts do not reset "
        "it); trials still running then are failed and the best finished one is fitted. Default: no limit.",
    )
    hpo_seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_HPO_SEED,
        description="With enable_hpo: seed of the sampler, so the same study proposes the same trials. Default: "
        "unseeded.",
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
    hyperparams: dict[HyperparamName, HyperparamValue] = Field(
        default_factory=dict,
        max_length=MAX_HYPERPARAMS,
        description="Fixed hyperparameters of the model family (e.g. n_estimators, learning_rate, max_depth); "
        "with enable_hpo, a search space {name: {type, low, high, log, step, choices}}. At most "
        f"{MAX_HYPERPARAMS}; finite numbers only.",
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
        description="Season length in steps for the seasonal-naive baseline. Default: one day at the data's "
        "frequency (24 for hourly data).",
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

    @field_validator("register_model", "enable_hpo")
    @classmethod
    def _fits_the_family(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if info.data.get("model_family") != "seasonal_naive":
            return value
        if info.field_name == "register_model" and value:
            raise ValueError("must be false with model_family seasonal_naive: the baseline fits nothing to register")
        if info.field_name == "enable_hpo" and value:
            raise ValueError("must be false with model_family seasonal_naive: the baseline has nothing to tune")
        return value

    @field_validator("hyperparams")
    @classmethod
    def _no_hyperparams_for_the_baseline(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if value and info.data.get("model_family") == "seasonal_naive":
            raise ValueError("must be empty with model_family seasonal_naive (its season is seasonal_period)")
        return value

    @field_validator("test_split")
    @classmethod
    def _leaves_training_data(cls, value: float, info: ValidationInfo) -> float:
        validation = info.data.get("validation_split")
        if validation is not None and validation + value >= 0.8:
            raise ValueError("validation_split + test_split must leave at least 20% of the data for training")
        return value

    @property
    def registers_model(self) -> bool:
        """Whether the job ends by registering a model version (see ``register_model``)."""
        if self.register_model is not None:
            return self.register_model
        return self.model_family != "seasonal_naive"
