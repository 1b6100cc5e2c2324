"""Model families (what a job can train), their hyperparameters, and the seasonal-naive baseline."""

from trainforge.models.baseline import seasonal_naive, seasonal_naive_lag
from trainforge.models.families import DEFAULT_FAMILY, FAMILIES, family_for, get_family, validate_hyperparams
from trainforge.models.family import ModelFamily
from trainforge.models.params import ParamSpec

__all__ = [
    "DEFAULT_FAMILY",
    "FAMILIES",
    "ModelFamily",
    "ParamSpec",
    "family_for",
    "get_family",
    "seasonal_naive",
    "seasonal_naive_lag",
    "validate_hyperparams",
]
