"""Model families (what a job can train), their hyperparameters, and the portable forecaster
(:mod:`trainforge.models.forecaster`, imported on its own: it is the registered model's code)."""

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
    "validate_hyperparams",
]
