"""What a model family is: its hyperparameters, and how it fits and predicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainforge.models.params import ParamSpec

FitFunction = Callable[[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series, Mapping[str, Any], int | None], Any]
PredictFunction = Callable[[Any, pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class ModelFamily:
    """A kind of model a job can train (``lightgbm_forecast``, later ``isolation_forest``, ...).

    A new family is one module that builds one of these and is added to :mod:`trainforge.models.families`.

    Attributes:
        name: Recorded as ``PipelineResult.model_family`` and in the registry.
        model_type: The job's ``model_type`` it serves (``"forecast"``, ``"anomaly"``).
        params: Every hyperparameter it accepts, with type, range, default and default search range.
        fit: ``fit(X_train, y_train, X_val, y_val, params, num_threads) -> model``.
        predict: ``predict(model, X) -> np.ndarray``.
    """

    name: str
    model_type: str
    params: Mapping[str, ParamSpec]
    fit: FitFunction
    predict: PredictFunction

    def defaults(self) -> dict[str, Any]:
        """Every hyperparameter at its default."""
        return {name: spec.default for name, spec in self.params.items()}

    def default_search_space(self) -> dict[str, dict[str, Any]]:
        """The hyperparameters tuned by default, in the API's search-space format."""
        return {name: space for name, spec in self.params.items() if (space := spec.search_space()) is not None}
