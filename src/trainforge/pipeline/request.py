"""What one run of the pipeline is given: the typed request the worker sends to its Ray task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from trainforge.pipeline.config import TrainingConfig

__all__ = ["PipelineRequest"]


@dataclass(frozen=True)
class PipelineRequest:
    """The arguments of :func:`~trainforge.pipeline.forecast.run_forecast_pipeline`, as one value that travels to a
    Ray task (and to a study's data preparation).

    Attributes:
        tenant_id: Owner of the feature set.
        feature_set: Feature set to train on.
        config: The job's training configuration.
        feature_store_root: Root of the Parquet feature store (shared storage on a remote cluster).
        num_threads: LightGBM threads; None for every core.
        checkpoint_dir: The job's checkpoint directory (written by the Ray task itself), or None.
        hyperparams: Hyperparameters to fit with instead of ``config.hyperparams`` (a study's best trial's).
    """

    tenant_id: str
    feature_set: str
    config: TrainingConfig
    feature_store_root: str
    num_threads: int | None = None
    checkpoint_dir: str | None = None
    hyperparams: Mapping[str, Any] | None = None

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``run_forecast_pipeline``."""
        return {field.name: getattr(self, field.name) for field in fields(self)}
