"""Semantic versions of trained models, and the rules that choose the next one (DESIGN §5).

Plain Python on purpose: no MLflow, no database. The registry reads the facts of the newest registered version back
from its tags, builds :class:`VersionFacts` for the new training, and asks :func:`next_version`:

* the first version of a model is ``1.0.0``;
* **major** when the model family, the feature set or the feature schema (the ordered feature columns) changed;
* **minor** when the model was retrained on different data (data hash or data window) or hyperparameters;
* **patch** when the same training was registered again.

A model id is ``"{tenant}:{model_name}:{major}.{minor}.{patch}"`` (``t1:load:1.2.0``).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, NamedTuple

from trainforge.errors import InvalidInput
from trainforge.names import check_name, check_tenant

__all__ = [
    "Bump",
    "ModelId",
    "SemVer",
    "VersionFacts",
    "canonical_json",
    "classify_change",
    "format_model_id",
    "next_version",
    "parse_model_id",
]

# No leading zeros, as in semver.org: "01.2.3" would make two spellings of one version.
_SEMVER_PATTERN = re.compile(r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$")
FIRST_VERSION_TEXT = "1.0.0"


@dataclass(frozen=True, order=True)
class SemVer:
    """A ``major.minor.patch`` version; instances order numerically (``1.10.0 > 1.9.3``)."""

    major: int
    minor: int
    patch: int

    def __post_init__(self) -> None:
        if min(self.major, self.minor, self.patch) < 0:
            raise ValueError(f"version parts must be non-negative: {self.major}.{self.minor}.{self.patch}")

    @classmethod
    def parse(cls, text: str, *, field: str = "version") -> SemVer:
        """Parse ``"1.2.3"``.

        Args:
            text: The version text.
            field: The request field to name in the error if ``text`` is not a version.

        Raises:
            InvalidInput: ``text`` is not three dot-separated non-negative integers without leading zeros.
        """
        match = _SEMVER_PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(f"{field} must look like 1.2.3, got {text!r}", field=field)
        return cls(*(int(part) for part in match.groups()))

    def bump(self, kind: Bump) -> SemVer:
        """Return the version after this one for a change of ``kind``."""
        if kind is Bump.MAJOR:
            return SemVer(self.major + 1, 0, 0)
        if kind is Bump.MINOR:
            return SemVer(self.major, self.minor + 1, 0)
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


FIRST_VERSION = SemVer.parse(FIRST_VERSION_TEXT)


class Bump(enum.Enum):
    """Which part of the version a change moves."""

    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"


@dataclass(frozen=True)
class VersionFacts:
    """What decides a model's version: how it was built, and from which data.

    Attributes:
        model_family: e.g. ``"lightgbm"``.
        feature_set: The feature set the training data came from.
        feature_columns: The model's input schema. Order counts: a tree model reads features by position.
        data_hash: sha256 of the training rows (``Lineage.data_hash``).
        hyperparams: The hyperparameters the final model was fitted with.
        data_start: ISO timestamp of the first training row.
        data_end: ISO timestamp of the last training row.
        semver: The version these facts were registered as; ``None`` for a training not registered yet.
    """

    model_family: str
    feature_set: str
    feature_columns: tuple[str, ...]
    data_hash: str
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    data_start: str | None = None
    data_end: str | None = None
    semver: SemVer | None = None

    def __post_init__(self) -> None:
        # Accept any sequence (a list from JSON) but keep the frozen instance hashable and comparable.
        if not isinstance(self.feature_columns, tuple):
            object.__setattr__(self, "feature_columns", tuple(self.feature_columns))

    def with_semver(self, semver: SemVer) -> VersionFacts:
        """Return these facts as registered under ``semver``."""
        return replace(self, semver=semver)


def classify_change(previous: VersionFacts, current: VersionFacts) -> Bump:
    """Say how ``current`` differs from ``previous``: the largest change wins.

    Hyperparameters are compared through :func:`canonical_json`, so a value read back from a JSON tag equals the
    Python value it was written from (tuple vs list, numpy scalar vs int).
    """
    if (
        previous.model_family != current.model_family
        or previous.feature_set != current.feature_set
        or tuple(previous.feature_columns) != tuple(current.feature_columns)
    ):
        return Bump.MAJOR
    if (
        previous.data_hash != current.data_hash
        or previous.data_start != current.data_start
        or previous.data_end != current.data_end
        or canonical_json(previous.hyperparams) != canonical_json(current.hyperparams)
    ):
        return Bump.MINOR
    return Bump.PATCH


def next_version(previous: VersionFacts | None, current: VersionFacts) -> SemVer:
    """Choose the version of ``current`` given the newest registered version of the same model.

    Args:
        previous: Facts of the newest registered version (with its ``semver``), or ``None`` if there is none.
        current: Facts of the training being registered.

    Returns:
        ``1.0.0`` for the first version, else ``previous.semver`` bumped by :func:`classify_change`.

    Raises:
        ValueError: ``previous`` has no ``semver`` (it was never registered).
    """
    if previous is None:
        return FIRST_VERSION
    if previous.semver is None:
        raise ValueError("previous version facts carry no semver; read them from a registered version")
    return previous.semver.bump(classify_change(previous, current))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text, whatever their Python types."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=True)


def _json_default(value: Any) -> Any:
    # numpy scalars (Optuna and pandas hand them out) become the Python number they hold.
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, Sequence):
        return list(value)
    return str(value)


class ModelId(NamedTuple):
    """The parts of ``"{tenant}:{model_name}:{semver}"``."""

    tenant_id: str
    model_name: str
    semver: SemVer

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.model_name}:{self.semver}"


def format_model_id(tenant_id: str, model_name: str, semver: SemVer | str) -> str:
    """Build a model id such as ``"t1:load:1.0.0"``.

    Raises:
        InvalidInput: the tenant, the model name or the version is malformed (names the field).
    """
    version = semver if isinstance(semver, SemVer) else SemVer.parse(semver, field="semver")
    return str(ModelId(check_tenant(tenant_id), check_name(model_name, "model_name"), version))


def parse_model_id(model_id: str) -> ModelId:
    """Split ``"t1:load:1.0.0"`` into its tenant, model name and version.

    Raises:
        InvalidInput: with ``field="model_id"`` when the text is not a well-formed model id.
    """
    parts = model_id.split(":") if isinstance(model_id, str) else []
    if len(parts) != 3:
        raise InvalidInput(
            f"model_id must look like '<tenant>:<model_name>:<major>.<minor>.<patch>', got {model_id!r}",
            field="model_id",
        )
    tenant_id, model_name, version = parts
    try:
        return ModelId(check_tenant(tenant_id), check_name(model_name, "model_name"), SemVer.parse(version))
    except InvalidInput as error:
        raise InvalidInput(f"model_id {model_id!r} is malformed: {error.message}", field="model_id") from error
