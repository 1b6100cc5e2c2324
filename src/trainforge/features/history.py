"""The latest rows of a feature set: the history a forecast starts from."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from trainforge.errors import InsufficientData
from trainforge.features._canonical import SERIES_ID, TIMESTAMP
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
    """The last ``steps`` rows of each series (of ``series`` only, if given), with ``columns``.

    One read of the feature set's last ``steps`` time steps (the filter pushed down to Parquet) serves every
    series that is up to date, so the cost does not grow with the feature set's length. A series that ends
    earlier or has gaps there (fewer than ``steps`` rows in that window) is read again whole and cut to its own
    tail, so that it is forecast from its latest rows rather than dropped or cut short. Without ``series``, "every
    series" is every series stored (their ids are read from the key columns alone).

    Returns:
        Columns ``timestamp``, ``series_id`` and ``columns``, sorted by series and time; a requested series with no
        rows at all is absent.

    Raises:
        FeatureSetNotFound: No such feature set.
        InvalidInput: A column does not exist (``field="columns"``).
        InsufficientData: The feature set is empty.
    """
    info = store.info(tenant, feature_set)
    if info.end is None:
        raise InsufficientData(f"feature set {feature_set!r} has no rows to forecast from", field="feature_set")
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    start = pd.Timestamp(info.end) - (steps - 1) * step
    frame = store.load(tenant, feature_set, start=start, series=series, columns=list(columns))
    counts = frame[SERIES_ID].value_counts()
    wanted = list(series) if series is not None else _every_series(store, tenant, feature_set)
    short = [s for s in wanted if counts.get(s, 0) < steps]
    if short:
        again = store.load(tenant, feature_set, series=short, columns=list(columns))
        frame = pd.concat([frame[~frame[SERIES_ID].isin(short)], again], ignore_index=True)
        frame = frame.sort_values([SERIES_ID, TIMESTAMP], kind="stable", ignore_index=True)
    return frame.groupby(SERIES_ID, sort=False, observed=True).tail(steps).reset_index(drop=True)


def _every_series(store: ParquetFeatureStore, tenant: str, feature_set: str) -> list[str]:
    return store.load(tenant, feature_set, columns=[])[SERIES_ID].unique().tolist()
