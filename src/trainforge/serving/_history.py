"""The history a forecast starts from: the rows a request carries, or the latest rows of the model's feature set
(``trainforge.features.latest_history``), with the feature set's errors blamed on ``history``."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from trainforge.errors import InvalidInput
from trainforge.features import ParquetFeatureStore, latest_history
from trainforge.serving._request import HistoryRow

__all__ = ["SERIES_ID", "TIMESTAMP", "rows_to_frame", "stored_history"]

TIMESTAMP = "timestamp"
SERIES_ID = "series_id"


def rows_to_frame(rows: Sequence[HistoryRow]) -> pd.DataFrame:
    """The request's history rows as a frame: ``timestamp`` (UTC), ``series_id`` and one column per value field
    (missing where a row does not give it)."""
    frame = pd.DataFrame.from_records(
        [{TIMESTAMP: row.timestamp, SERIES_ID: row.series_id, **(row.model_extra or {})} for row in rows]
    )
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
    for column in frame.columns.drop([TIMESTAMP, SERIES_ID]):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def stored_history(
    store: ParquetFeatureStore,
    tenant_id: str,
    feature_set: str,
    *,
    columns: Sequence[str],
    freq: str,
    steps: int,
    series: Sequence[str] | None,
) -> pd.DataFrame:
    """The latest ``steps`` rows of each series of the model's feature set (see ``latest_history``).

    Raises:
        FeatureSetNotFound: the feature set is gone (404 naming ``feature_set``).
        InvalidInput: it is empty, or no longer has one of ``columns``: the request can only send ``history``
            (``field="history"``).
    """
    try:
        return latest_history(store, tenant_id, feature_set, columns=columns, steps=steps, freq=freq, series=series)
    except InvalidInput as error:
        raise InvalidInput(
            f"the feature set {feature_set!r} cannot give this model's history: {error.message}; send `history`",
            field="history",
        ) from error
