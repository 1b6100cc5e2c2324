"""Turn a user's frame into the feature store's canonical Arrow table, or say which column is wrong.

Canonical form: a ``timestamp`` column (``timestamp[us, tz=UTC]``; naive input is taken as UTC), a ``series_id``
column (string), then the other columns as they came. Rows are sorted by ``series_id, timestamp`` so that Parquet
row-group statistics let filtered reads skip most of the file.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from trainforge.errors import InvalidInput

TIMESTAMP = "timestamp"
SERIES_ID = "series_id"
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")


def canonical_table(df: pd.DataFrame, *, timestamp_col: str, series_col: str) -> pa.Table:
    """Validate ``df`` and return it as a canonical, sorted Arrow table.

    Args:
        df: One row per (series, timestamp); the other columns are the target and covariates.
        timestamp_col: The column holding timestamps (datetimes, or strings pandas can parse).
        series_col: The column naming the series each row belongs to.

    Returns:
        A table with columns ``timestamp``, ``series_id`` and the others unchanged, without pandas metadata.

    Raises:
        InvalidInput: Missing columns, unparseable or empty timestamps, empty series ids, duplicate
            (series, timestamp) pairs, no numeric column, or a column Arrow cannot store; the message names it.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput("expected a pandas DataFrame", field="data")
    if df.empty:
        raise InvalidInput("the data has no rows", field="data")
    if not all(isinstance(name, str) for name in df.columns) or df.columns.has_duplicates:
        raise InvalidInput("column names must be unique strings", field="data")
    for arg, column in (("timestamp_col", timestamp_col), ("series_col", series_col)):
        if column not in df.columns:
            raise InvalidInput(f"column {column!r} not found; the columns are {list(df.columns)}", field=arg)
    if timestamp_col == series_col:
        raise InvalidInput("timestamp_col and series_col must be different columns", field="series_col")
    values = [c for c in df.columns if c not in (timestamp_col, series_col)]
    for reserved in (TIMESTAMP, SERIES_ID):
        if reserved in values:
            raise InvalidInput(
                f"column {reserved!r} clashes with the canonical {reserved!r} column; rename it", field=reserved
            )
    if not any(_is_numeric(df[c]) for c in values):
        raise InvalidInput(
            f"no numeric column besides {timestamp_col!r} and {series_col!r}: nothing to forecast", field="data"
        )

    frame = pd.DataFrame(
        {
            TIMESTAMP: _utc_timestamps(df[timestamp_col], timestamp_col),
            SERIES_ID: _series_ids(df[series_col], series_col),
        }
    )
    frame = pd.concat([frame, df[values].reset_index(drop=True)], axis=1)
    _refuse_duplicates(frame, timestamp_col, series_col)
    frame = frame.sort_values([SERIES_ID, TIMESTAMP], kind="stable", ignore_index=True)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # e.g. an object column mixing numbers and text
        raise InvalidInput(f"cannot store the data: {exc}", field="data") from exc
    return _normalise_types(table)


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _utc_timestamps(column: pd.Series, name: str) -> pd.Series:
    column = column.reset_index(drop=True)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        parsed = column.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(column):
        parsed = column.dt.tz_localize("UTC")
    elif pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column):
        try:
            parsed = pd.to_datetime(column, utc=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInput(f"column {name!r} has values that are not timestamps: {exc}", field=name) from exc
    else:
        # Numbers could be epoch seconds, milliseconds or nanoseconds: guessing would silently shift the data.
        raise InvalidInput(
            f"column {name!r} has type {column.dtype}; expected datetimes or date-time strings", field=name
        )
    missing = int(parsed.isna().sum())
    if missing:
        raise InvalidInput(f"column {name!r} has {missing} empty timestamps", field=name)
    return parsed.dt.as_unit("us")


def _series_ids(column: pd.Series, name: str) -> pd.Series:
    column = column.reset_index(drop=True)
    missing = int(column.isna().sum())
    if missing:
        raise InvalidInput(f"column {name!r} has {missing} empty series ids", field=name)
    return column.astype("str")


def _refuse_duplicates(frame: pd.DataFrame, timestamp_col: str, series_col: str) -> None:
    duplicated = frame.duplicated([SERIES_ID, TIMESTAMP])
    if duplicated.any():
        first = frame.loc[duplicated.idxmax()]
        raise InvalidInput(
            f"{int(duplicated.sum())} rows repeat a ({series_col!r}, {timestamp_col!r}) pair, e.g. "
            f"({first[SERIES_ID]!r}, {first[TIMESTAMP].isoformat()})",
            field=timestamp_col,
        )


def _normalise_types(table: pa.Table) -> pa.Table:
    """Pin the key types, and store all text as ``string`` so appends from CSV and pandas agree."""
    fields = []
    for item in table.schema:
        if item.name == TIMESTAMP:
            item = item.with_type(TIMESTAMP_TYPE)
        elif pa.types.is_large_string(item.type):
            item = item.with_type(pa.string())
        elif pa.types.is_dictionary(item.type) and pa.types.is_large_string(item.type.value_type):
            item = item.with_type(pa.dictionary(item.type.index_type, pa.string()))
        fields.append(item.with_nullable(True))
    return table.cast(pa.schema(fields)).replace_schema_metadata(None)
