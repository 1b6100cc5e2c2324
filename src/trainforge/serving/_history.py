"""The history a forecast starts from: the rows a request carries, or the latest rows of the model's feature set."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from trainforge.errors import InvalidInput
from trainforge.features.store import ParquetFeatureStore
from trainforge.serving._request import HistoryRow

__all__ = ["FEW_SERIES", "SERIES_ID", "TIMESTAMP", "latest_history", "rows_to_frame"]

TIMESTAMP = "timestamp"
SERIES_ID = "series_id"
# Up to this many requested series are read whole rather than by a time window (see latest_history).
FEW_SERIES = 16


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


def latest_history(
    store: ParquetFeatureStore,
    tenant_id: str,
    feature_set: str,
    *,
    columns: Sequence[str],
    freq: str,
    steps: int,
    series: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The latest ``steps`` rows of each series of a feature set (of ``series`` only, if given).

    A few series (up to :data:`FEW_SERIES`) are read whole and cut to their tails: the store sorts its rows by
    series, so a filter by series skips most row groups by their statistics, while every row group spans the whole
    time range and a filter by time on top only costs more. For more series, one read of the set's last ``steps``
    time steps serves every series that is up to date; a series that ends earlier or has gaps there (fewer rows
    than ``steps`` in that window) is read again whole and cut.

    Returns:
        Columns ``timestamp``, ``series_id`` and ``columns``, sorted by series and time; a series with no rows at
        all is simply absent.

    Raises:
        FeatureSetNotFound: the feature set is gone.
        InvalidInput: it no longer has one of ``columns`` (``field="history"``).
    """
    try:
        if series is not None and len(series) <= FEW_SERIES:
            whole = store.load(tenant_id, feature_set, series=series, columns=columns)
            return whole.groupby(SERIES_ID, sort=False).tail(steps).reset_index(drop=True)
        info = store.info(tenant_id, feature_set)
        if info.end is None:
            return pd.DataFrame(columns=[TIMESTAMP, SERIES_ID, *columns])
        start = pd.Timestamp(info.end) - (steps - 1) * pd.tseries.frequencies.to_offset(freq)
        window = store.load(tenant_id, feature_set, start=start, series=series, columns=columns)
        counts = window[SERIES_ID].value_counts()
        wanted = list(series) if series is not None else _every_series(store, tenant_id, feature_set)
        short = [s for s in wanted if counts.get(s, 0) < steps]
        if not short:
            return window
        again = store.load(tenant_id, feature_set, series=short, columns=columns)
    except InvalidInput as error:
        raise InvalidInput(
            f"the feature set {feature_set!r} cannot give this model's history: {error.message}; send `history`",
            field="history",
        ) from error
    kept = window[~window[SERIES_ID].isin(short)]
    frame = pd.concat([kept, again.groupby(SERIES_ID, sort=False).tail(steps)], ignore_index=True)
    return frame.sort_values([SERIES_ID, TIMESTAMP], kind="stable", ignore_index=True)


def _every_series(store: ParquetFeatureStore, tenant_id: str, feature_set: str) -> list[str]:
    # Only the two key columns are read (``load`` always returns them).
    return store.load(tenant_id, feature_set, columns=[])[SERIES_ID].unique().tolist()
