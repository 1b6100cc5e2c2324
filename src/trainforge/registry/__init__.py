"""Model versions: the semver rules, the lineage schema, and the MLflow-backed registry.

Importing this package does not import MLflow (seconds of start-up): the version rules and records are plain
Python, and :class:`ModelRegistry` is loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports
from trainforge.registry._records import JobIdentity, RegisteredVersion
from trainforge.registry._versioning import (
    Bump,
    ModelId,
    SemVer,
    VersionFacts,
    classify_change,
    format_model_id,
    next_version,
    parse_model_id,
)

if TYPE_CHECKING:
    from trainforge.registry._model_registry import ModelRegistry

__all__ = [
    "Bump",
    "JobIdentity",
    "ModelId",
    "ModelRegistry",
    "RegisteredVersion",
    "SemVer",
    "VersionFacts",
    "classify_change",
    "format_model_id",
    "next_version",
    "parse_model_id",
]

__getattr__ = lazy_exports(__name__, {"ModelRegistry": "trainforge.registry._model_registry"})
