"""The body of ``POST /ai/training/optimize/start``: a study, run as a training job with ``enable_hpo``."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator

from trainforge.fields import (
    MAX_HYPERPARAMS,
    HyperparamName,
    HyperparamValue,
    Priority,
    ResourceName,
    TenantId,
    priority_value,
)
from trainforge.names import NAME_RULE, TENANT_RULE
from trainforge.pipeline.config import ModelType, TrainingSetup, TuningConfig, check_objective

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


class OptimizeRequest(TuningConfig):
    """A request to tune a model: an Optuna study whose trials run in parallel on Ray, then a fit of the best.

    Its top level takes the :class:`~trainforge.pipeline.config.TuningConfig` fields (``n_trials``,
    ``optimization_strategy``, ``pruner``, ``parallel_jobs``, ``timeout_seconds``, ``seed``), as the
    specification's body does; a job with ``enable_hpo`` gives the same fields as ``config.tuning``.
    """

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

    tenant_id: TenantId = Field(description=f"Tenant that owns the study: {TENANT_RULE}.")
    study_name: ResourceName = Field(description=f"Unique within the tenant: {NAME_RULE}.")
    model_type: ModelType = Field(description="Model type: 'forecast' ('anomaly' is not available yet).")
    feature_set: ResourceName = Field(description=f"Feature set to train on: {NAME_RULE}.")
    model_name: ResourceName | None = Field(
        default=None,
        description=f"Registered model name of the best trial's fit: {NAME_RULE}. Default: the study_name.",
    )
    config: TrainingSetup = Field(
        default_factory=TrainingSetup,
        validate_default=True,  # the objective check runs on the default config too
        description="The data window, target, horizon, splits, covariates, series and model family, as for a "
        "training job. The tuning belongs at the top level of this body, and the search space in search_space.",
    )
    search_space: dict[HyperparamName, SearchEntry] | None = Field(
        default=None,
        max_length=MAX_HYPERPARAMS,
        description="Hyperparameter name -> {type: int|float|categorical, low, high, log, step, choices} to search, "
        "or a number to fix it for every trial. Names left out keep the family's defaults. Default: the family's "
        "default search space. A range that cannot work is a 422 naming search_space.<name>.",
    )
    priority: Priority = Field(default="normal", description="Of the study's job (higher runs first).")

    @field_validator("config")
    @classmethod
    def _objective_has_backtest(cls, value: TrainingSetup, info: ValidationInfo) -> TrainingSetup:
        check_objective(info.data.get("objective", "val_mae"), value.backtest)  # objective validates first
        return value

    @property
    def priority_value(self) -> int:
        return priority_value(self.priority)

    @property
    def job_model_name(self) -> str:
        return self.model_name or self.study_name
