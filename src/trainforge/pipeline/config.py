"""What a training job asks for: the ``config`` object of ``POST /ai/training/jobs/start``.

Plain pydantic, no framework: the API validates requests with it, the worker re-reads it from the job row, and the
pipeline runs from it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

ModelType = Literal["forecast", "anomaly"]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
SeriesId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# Dates outside this window are typos (or attacks on date arithmetic), not training windows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_HYPERPARAMS = 64


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
    enable_hpo: bool = Field(default=False, description="Tune hyperparameters with Optuna before the final fit.")
    n_trials: int = Field(default=50, ge=1, le=10_000, description="Optuna trials when enable_hpo is true.")
    validation_split: float = Field(
        default=0.2, gt=0, lt=0.5, description="Fraction of the time range (after train) used for validation."
    )
    test_split: float = Field(
        default=0.1,
        gt=0,
        lt=0.5,
        description="Fraction of the time range (the most recent) held out for test.",
    )
    hyperparams: dict[str, Any] = Field(
        default_factory=dict,
        description="Fixed hyperparameters of the model family (e.g. n_estimators, learning_rate, max_depth); "
        "with enable_hpo, a search space {name: {type, low, high, log, step, choices}}.",
    )
    features: list[ColumnName] | None = Field(
        default=None,
        max_length=256,
        description="Covariate columns to use (lagged by horizon). Default: every numeric column but the target.",
    )
    series: list[SeriesId] | None = Field(
        default=None, max_length=10_000, description="Only these series ids. Default: every series."
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
    def _plausible_date(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive timestamps are UTC
        if not EARLIEST <= aware < LATEST:
            raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
        return aware

    @model_validator(mode="after")
    def _check_window_and_splits(self) -> TrainingConfig:
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        if self.validation_split + self.test_split >= 0.8:
            raise ValueError("validation_split + test_split must leave at least 20% of the data for training")
        return self

    @field_validator("hyperparams")
    @classmethod
    def _finite_numbers(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_HYPERPARAMS:
            raise ValueError(f"at most {MAX_HYPERPARAMS} hyperparameters")
        for name, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"hyperparams.{name} must be a finite number")
        return value
