"""What the feature store knows about a feature set without reading its rows: the ``_meta.json`` beside the data."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trainforge.errors import TrainforgeError

# Bumped if the layout of _meta.json changes incompatibly; readers refuse a format they do not know.
META_FORMAT = 1
META_FILE = "_meta.json"


@dataclass(frozen=True)
class FeatureSetInfo:
    """Summary of one stored feature set.

    Attributes:
        tenant_id: Owner of the feature set.
        feature_set: Its name, unique within the tenant.
        row_count: Rows stored.
        series_count: Distinct ``series_id`` values.
        start: Earliest timestamp (UTC), ``None`` only for an empty set.
        end: Latest timestamp (UTC), inclusive.
        frequency: Inferred sampling frequency as a pandas offset alias (``"h"``), ``None`` if it cannot be told.
        columns: Every stored column and its Arrow type, in storage order (``timestamp``, ``series_id`` first).
        version: 1 on creation, +1 on every replace or append.
        numeric_columns: The columns that can be a target or a covariate.
        timestamp_column: The timestamp column's name in the imported data (stored as ``timestamp``).
        series_column: The series column's name in the imported data (stored as ``series_id``).
        created_at: When version 1 was written (UTC).
        updated_at: When the current version was written (UTC).
    """

    tenant_id: str
    feature_set: str
    row_count: int
    series_count: int
    start: datetime | None
    end: datetime | None
    frequency: str | None
    columns: dict[str, str]
    version: int
    numeric_columns: list[str] = field(default_factory=list)
    timestamp_column: str = "timestamp"
    series_column: str = "series_id"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (timestamps as ISO 8601 strings), as written to ``_meta.json`` and the API."""
        out = asdict(self)
        for key in ("start", "end", "created_at", "updated_at"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSetInfo:
        """Inverse of :meth:`to_json`."""
        values = dict(data)
        values.pop("format", None)
        for key in ("start", "end", "created_at", "updated_at"):
            values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
        return cls(**values)


def read_meta(directory: Path) -> FeatureSetInfo | None:
    """The feature set described in ``directory``, or ``None`` if there is none."""
    try:
        data = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if data.get("format") != META_FORMAT:
        # A store written by a newer trainforge: refuse rather than misread it.
        raise TrainforgeError(f"{directory / META_FILE} has format {data.get('format')}; expected {META_FORMAT}")
    return FeatureSetInfo.from_json(data)


def write_meta(directory: Path, info: FeatureSetInfo) -> None:
    """Write ``_meta.json`` into a (staging) directory, flushed to disk before it is renamed into place."""
    path = directory / META_FILE
    with path.open("w", encoding="utf-8") as handle:
        json.dump({"format": META_FORMAT, **info.to_json()}, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
