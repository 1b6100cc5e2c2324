"""The latest rows of a feature set: the history a forecast starts from."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from trainforge.errors import InsufficientData
from trainforge.features.store import ParquetFeatureStore

__all__ = ["latest_history"]


def latest_history(
    store: ParquetFeatureStore,
    tenant: str,
    feature_set: str,
    *,
    columns: Sequence[str],
    steps: int,
    freq: str,
    series: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The last ``steps`` steps of each series before the feature set's latest timestamp, with ``columns``.

    Only that window is read (the filter is pushed down to Parquet), so the cost does not grow with the feature
    set's length.

    Raises:
        FeatureSetNotFound: No such feature set.
        InvalidInput: A column does not exist.
        InsufficientData: The feature set is empty.
    """
    info = store.info(tenant, feature_set)
    if info.end is None:
        raise InsufficientData(f"feature set {feature_set!r} has no rows to forecast from", field="feature_set")
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    start = pd.Timestamp(info.end) - (steps - 1) * step
    frame = store.load(tenant, feature_set, start=start, series=series, columns=list(columns))
    return frame.groupby("series_id", sort=False, observed=True).tail(steps).reset_index(drop=True)
