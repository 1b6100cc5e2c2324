"""The predict request's rules: each bad field is refused naming it, and the defaults are what the docs say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from trainforge.serving import PredictRequest, quantile_key

ROW = {"timestamp": "2024-03-01T23:00:00Z", "series_id": "site-1", "load_kw": 412.5}


def refused(body: dict) -> list[tuple[str, ...]]:
    """The locations pydantic blames for ``body`` (as JSON, as the API reads it)."""
    import json

    with pytest.raises(ValidationError) as caught:
        PredictRequest.model_validate_json(json.dumps(body))
    return [tuple(str(part) for part in error["loc"]) for error in caught.value.errors()]


def test_only_the_tenant_is_required_and_the_defaults_are_empty():
    request = PredictRequest.model_validate({"tenant_id": "t1"})
    assert (request.version, request.series_ids, request.horizon, request.history) == (None, None, None, None)
    assert request.quantiles == [] and request.include_history is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ("tenant_id",)),
        ({"tenant_id": "a.b"}, ("tenant_id",)),
        ({"tenant_id": "t1", "model": "x"}, ("model",)),  # extra=forbid
        ({"tenant_id": "t1", "version": "1.0"}, ("version",)),
        ({"tenant_id": "t1", "version": "01.0.0"}, ("version",)),
        ({"tenant_id": "t1", "version": "latest"}, ("version",)),
        ({"tenant_id": "t1", "horizon": 0}, ("horizon",)),
        ({"tenant_id": "t1", "horizon": 721}, ("horizon",)),
        ({"tenant_id": "t1", "horizon": "24"}, ("horizon",)),
        ({"tenant_id": "t1", "horizon": True}, ("horizon",)),
        ({"tenant_id": "t1", "horizon": 2.5}, ("horizon",)),
        ({"tenant_id": "t1", "quantiles": [0.0]}, ("quantiles", "0")),
        ({"tenant_id": "t1", "quantiles": [0.5, 1.0]}, ("quantiles", "1")),
        ({"tenant_id": "t1", "quantiles": ["0.5"]}, ("quantiles", "0")),
        ({"tenant_id": "t1", "quantiles": [i / 100 for i in range(1, 22)]}, ("quantiles",)),
        ({"tenant_id": "t1", "series_ids": []}, ("series_ids",)),
        ({"tenant_id": "t1", "series_ids": ["bad\u0000id"]}, ("series_ids", "0")),
        ({"tenant_id": "t1", "series_ids": "site-1"}, ("series_ids",)),
        ({"tenant_id": "t1", "history": []}, ("history",)),
        ({"tenant_id": "t1", "history": [{"series_id": "s", "load_kw": 1}]}, ("history", "0", "timestamp")),
        ({"tenant_id": "t1", "history": [{"timestamp": "2024-01-01", "load_kw": 1}]}, ("history", "0", "series_id")),
        ({"tenant_id": "t1", "history": [ROW, {**ROW, "load_kw": "1"}]}, ("history", "1", "load_kw")),
        ({"tenant_id": "t1", "history": [{**ROW, "load_kw": True}]}, ("history", "0", "load_kw")),
        ({"tenant_id": "t1", "history": [{**ROW, "timestamp": "yesterday"}]}, ("history", "0", "timestamp")),
        ({"tenant_id": "t1", "include_history": "yes"}, ("include_history",)),
    ],
)
def test_a_bad_field_is_refused_naming_it(body, field):
    assert field in refused(body)


def test_nan_is_no_value():
    with pytest.raises(ValidationError) as caught:
        PredictRequest.model_validate({"tenant_id": "t1", "history": [{**ROW, "load_kw": float("nan")}]})
    assert [e["loc"] for e in caught.value.errors()] == [("history", 0, "load_kw")]


def test_history_rows_keep_their_columns_and_times_become_utc():
    rows = [ROW, {"timestamp": "2024-03-02T00:00:00", "series_id": "site-1", "load_kw": None, "temp_c": 3}]
    request = PredictRequest.model_validate({"tenant_id": "t1", "history": rows})
    first, second = request.history
    assert first.model_extra == {"load_kw": 412.5}
    assert second.model_extra == {"load_kw": None, "temp_c": 3.0}
    assert second.timestamp == datetime(2024, 3, 2, tzinfo=UTC)  # naive means UTC


def test_repeated_series_and_quantiles_count_once_in_their_first_order():
    request = PredictRequest.model_validate(
        {"tenant_id": "t1", "series_ids": ["b", "a", "b"], "quantiles": [0.9, 0.1, 0.9, 0.90]}
    )
    assert request.series_ids == ["b", "a"]
    assert request.quantiles == [0.9, 0.1]


def test_a_version_is_kept_as_written():
    assert PredictRequest.model_validate({"tenant_id": "t1", "version": "1.10.2"}).version == "1.10.2"


@pytest.mark.parametrize(("quantile", "key"), [(0.1, "0.1"), (0.5, "0.5"), (0.975, "0.975"), (0.05, "0.05")])
def test_a_quantile_is_keyed_as_written(quantile, key):
    assert quantile_key(quantile) == key


def test_the_schema_documents_every_field():
    schema = PredictRequest.model_json_schema()
    undocumented = [name for name, field in schema["properties"].items() if not field.get("description")]
    assert undocumented == []
