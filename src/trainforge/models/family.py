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
RefitFunction = Callable[[pd.DataFrame, Any, Mapping[str, Any], int, int | None], Any]


@dataclass(frozen=True)
class ModelFamily:
    """A kind of model a job can train (``lightgbm``, ``seasonal_naive``, later ``isolation_forest``, ...).

    A new family is one module that builds one of these and is added to :mod:`trainforge.models.families`.

    Attributes:
        name: The one name of the family: ``config.model_family``, ``PipelineResult.model_family`` and the
            registry's lineage all use it.
        model_type: The job's ``model_type`` it serves (``"forecast"``, ``"anomaly"``).
        summary: What it is, in a few words (for the API's documentation).
        params: Every hyperparameter it accepts, with type, range, default and default search range.
        fit: ``fit(X_train, y_train, X_val, y_val, params, num_threads) -> model``; None for a family that fits
            nothing.
        refit: ``refit(X, y, params, rounds, num_threads) -> model``: a fit of exactly ``rounds`` rounds with no
            early stopping (the refit on train + validation); None for a family that fits nothing.
        predict: ``predict(model, X) -> np.ndarray``; None for a family that fits nothing.
    """

    name: str
    model_type: str
    summary: str
    params: Mapping[str, ParamSpec]
    fit: FitFunction | None = None
    refit: RefitFunction | None = None
    predict: PredictFunction | None = None

    @property
    def fits_model(self) -> bool:
        """Whether the family fits a model (and so has hyperparameters to tune and a model to register)."""
        return self.fit is not None

    def defaults(self) -> dict[str, Any]:
        """Every hyperparameter at its default."""
        return {name: spec.default for name, spec in self.params.items()}

    def default_search_space(self) -> dict[str, dict[str, Any]]:
        """The hyperparameters tuned by default, in the API's search-space format."""
        return {name: space for name, spec in self.params.items() if (space := spec.search_space()) is not None}
