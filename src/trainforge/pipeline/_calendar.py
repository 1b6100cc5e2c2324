"""Calendar features of the time being forecast: known in advance, so they never leak."""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd

CALENDAR_FEATURES = ("hour", "day_of_week", "month", "day_of_year", "is_holiday")


def calendar_features(timestamps: pd.Series, *, country: str = "US", with_hour: bool = True) -> pd.DataFrame:
    """Hour, day of week, month, day of year and a public-holiday flag of each timestamp.

    The features are of the timestamps as given (UTC in the feature store): a global model learns each series'
    local-time offset from ``series_id`` and ``hour`` together.

    Args:
        timestamps: Datetimes (tz-aware or naive).
        country: ISO country code for the ``holidays`` package.
        with_hour: Leave out ``hour`` for daily or coarser data, where it is constant.

    Returns:
        Small integer columns named as in :data:`CALENDAR_FEATURES`, aligned with ``timestamps``.
    """
    dt = timestamps.dt
    dates = dt.tz_localize(None).dt.normalize() if dt.tz is not None else dt.normalize()
    columns = {
        "hour": dt.hour.astype(np.int8),
        "day_of_week": dt.day_of_week.astype(np.int8),
        "month": dt.month.astype(np.int8),
        "day_of_year": dt.day_of_year.astype(np.int16),
        "is_holiday": dates.isin(_holiday_dates(dates, country)).astype(np.int8),
    }
    if not with_hour:
        del columns["hour"]
    return pd.DataFrame(columns, index=timestamps.index)


def _holiday_dates(dates: pd.Series, country: str) -> pd.DatetimeIndex:
    if dates.empty:
        return pd.DatetimeIndex([])
    years = range(dates.min().year, dates.max().year + 1)
    return pd.DatetimeIndex(list(holidays.country_holidays(country, years=years))).as_unit(dates.dt.unit)
