"""The body of ``POST /ai/training/optimize/start``: a study, run as a training job with ``enable_hpo``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from trainforge.errors import as_value_error
from trainforge.jobs.request import PRIORITY_SCHEMA, Priority
from trainforge.jobs.status import PRIORITY_LEVELS, priority_value
from trainforge.names import NAME_PATTERN, NAME_RULE, TENANT_PATTERN, TENANT_RULE, check_name, check_tenant
from trainforge.pipeline.config import (
    MAX_HPO_SEED,
    MAX_HPO_TIMEOUT_SECONDS,
    MAX_HYPERPARAMS,
    HyperparamName,
    HyperparamValue,
    ModelType,
    OptimizationStrategy,
    TrainingConfig,
)

# The fields of TrainingConfig that a study sets from the top level of its request: name -> where it goes instead.
TUNING_CONFIG_FIELDS = {
    "enable_hpo": None,
    "hyperparams": "search_space",
    "n_trials": "n_trials",
    "optimization_strategy": "optimization_strategy",
    "parallel_jobs": "parallel_jobs",
    "timeout_seconds": "timeout_seconds",
    "hpo_seed": "seed",
}
# Documents the shape of one search-space entry; parse_search_space checks it (naming search_space.<name>).
_SEARCH_ENTRY_SCHEMA = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["int", "float", "categorical"]},
                "low": {"type": "number"},
                "high": {"type": "number"},
                "log": {"type": "boolean"},
                "step": {"type": "number"},
                "choices": {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
            },
        },
        {"type": "number"},
    ]
}
SearchEntry = Annotated[HyperparamValue, WithJsonSchema(_SEARCH_ENTRY_SCHEMA)]


class OptimizeRequest(BaseModel):
    """A request to tune a model: an Optuna study whose trials run in parallel on Ray, then a fit of the best."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "tenant-123",
                    "study_name": "load_forecast_hpo_2025_10",
                    "model_type": "forecast",
                    "feature_set": "demo_load",
                    "config": {"target_variable": "load_kw", "horizon": 24},
                    "search_space": {
                        "n_estimators": {"type": "int", "low": 50, "high": 300},
                        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
                        "max_depth": {"type": "int", "low": 3, "high": 10},
                        "subsample": {"type": "float", "low": 0.6, "high": 1.0},
                    },
                    "optimization_strategy": "tpe",
                    "n_trials": 100,
                    "timeout_seconds": 3600,
                    "parallel_jobs": 4,
                }
            ]
        },
    )

    tenant_id: str = Field(
        description=f"Tenant that owns the study: {TENANT_RULE}.",
        max_length=63,
        json_schema_extra={"pattern": TENANT_PATTERN.pattern},
    )
    study_name: str = Field(
        description=f"Unique within the tenant: {NAME_RULE}.",
        max_length=128,
        json_schema_extra={"pattern": NAME_PATTERN.pattern},
    )
    model_type: ModelType = Field(description="Model family: 'forecast' ('anomaly' is not available yet).")
    feature_set: str = Field(
        description=f"Feature set to train on: {NAME_RULE}.",
        max_length=128,
        json_schema_extra={"pattern": NAME_PATTERN.pattern},
    )
    model_name: str | None = Field(
        default=None,
        description=f"Registered model name of the best trial's fit: {NAME_RULE}. Default: the study_name.",
        max_length=128,
        json_schema_extra={"pattern": NAME_PATTERN.pattern},
    )
    config: TrainingConfig = Field(
        default_factory=TrainingConfig,
        description="The data window, target, horizon, splits, covariates and series, as for a training job. The "
        "tuning fields (hyperparams, enable_hpo, n_trials, optimization_strategy, parallel_jobs, timeout_seconds, "
        "hpo_seed) belong at the top level of this body: given here, they are a 422.",
    )
    search_space: dict[HyperparamName, SearchEntry] | None = Field(
        default=None,
        max_length=MAX_HYPERPARAMS,
        description="Hyperparameter name -> {type: int|float|categorical, low, high, log, step, choices} to search, "
        "or a number to fix it for every trial. Names left out keep the family's defaults. Default: the family's "
        "default search space. A range that cannot work is a 422 naming search_space.<name>.",
    )
    optimization_strategy: OptimizationStrategy = Field(
        default="tpe",
        description="Optuna sampler: tpe, random, grid (each point of the space once; float ranges need a step), "
        "cmaes, qmc, or gp (needs PyTorch installed on the server).",
    )
    n_trials: int = Field(
        default=50, ge=1, le=10_000, description="How many trials to finish (complete or pruned; failed ones retry)."
    )
    timeout_seconds: float | None = Field(
        default=None,
        ge=1,
        le=MAX_HPO_TIMEOUT_SECONDS,
        description="End the study this many seconds after it first starts (at most 7 days); the best finished "
        "trial is then fitted. Default: no limit.",
    )
    parallel_jobs: int = Field(default=2, ge=1, le=64, description="How many trials run at the same time on Ray.")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_HPO_SEED, description="Seed of the sampler, for a reproducible study."
    )
    priority: Priority = Field(
        default="normal",
        description=f"Of the study's job: one of {', '.join(PRIORITY_LEVELS)}, or an integer from -100 to 100 "
        "(higher runs first).",
        json_schema_extra=PRIORITY_SCHEMA,
    )

    @field_validator("tenant_id")
    @classmethod
    def _safe_tenant(cls, value: str) -> str:
        return as_value_error(check_tenant, value, "tenant_id")

    @field_validator("study_name", "feature_set", "model_name")
    @classmethod
    def _safe_name(cls, value: str | None, info) -> str | None:
        return None if value is None else as_value_error(check_name, value, info.field_name)

    @property
    def priority_value(self) -> int:
        return priority_value(self.priority)

    @property
    def job_model_name(self) -> str:
        return self.model_name or self.study_name
