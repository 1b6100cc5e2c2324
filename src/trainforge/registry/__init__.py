"""Model versions: the semver rules, the lineage schema, and the MLflow-backed registry.

Importing this package does not import MLflow (seconds of start-up): the version rules and records are plain
Python, and :class:`ModelRegistry` is loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainforge.registry.records import JobIdentity, RegisteredVersion
from trainforge.registry.versioning import (
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
    from trainforge.registry.model_registry import ModelRegistry

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


def __getattr__(name: str) -> Any:
    if name == "ModelRegistry":
        from trainforge.registry.model_registry import ModelRegistry

        return ModelRegistry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
