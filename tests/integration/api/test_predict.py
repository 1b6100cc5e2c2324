"""``POST /ai/models/{model_name}/predict`` over HTTP, with models trained by real jobs (Ray, LightGBM, MLflow).

The models are the two versions of t1's ``site_load`` that ``trained_models`` trains once for the session
(1.0.0, then 1.1.0); each test's app reads their MLflow backend and feature store.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.integration.conftest import TRAINED_HORIZON as HORIZON
from tests.integration.conftest import TRAINED_SERIES as SERIES
from tests.integration.conftest import ApiOptions, TrainedModels
from trainforge.api.schemas import PredictResponse

PATH = "/ai/models/site_load/predict"


@pytest.fixture
def api_options(trained_models: TrainedModels) -> ApiOptions:
    return trained_models.api_options()


@pytest.fixture
def trained(trained_models: TrainedModels) -> TrainedModels:
    return trained_models


def predict(api, body: dict | None = None, *, who: str = "t1", path: str = PATH, status: int = 200) -> dict:
    response = api.client.post(path, json={"tenant_id": "t1", **(body or {})}, headers=api.auth(who))
    assert response.status_code == status, response.text
    if status == 200:  # the route writes its JSON without the model: hold it to the documented shape
        PredictResponse.model_validate_json(response.content)
    return response.json()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def rows_of(body: dict, series: str) -> list[dict]:
    return [row for row in body["forecasts"] if row["series_id"] == series]


def test_the_default_forecast_is_every_series_a_horizon_ahead_of_its_latest_row(api, trained):
    body = predict(api)
    assert body["model_id"] == trained.latest  # no champion: the latest version
    assert (body["horizon"], body["quantiles"], body["unseen_series"], body["history"]) == (HORIZON, [], [], None)
    assert len(body["forecasts"]) == len(SERIES) * HORIZON
    for series in SERIES:
        last = trained.frame(series)["timestamp"].max().to_pydatetime()
        rows = rows_of(body, series)
        assert [row["step"] for row in rows] == list(range(1, HORIZON + 1))
        assert {at(row["origin"]) for row in rows} == {last}
        assert [at(row["timestamp"]) for row in rows] == [last + timedelta(hours=k) for k in range(1, HORIZON + 1)]
        assert all(row["quantiles"] == {} and row["value"] > 0 for row in rows)  # the demo load is positive
    assert at(body["forecast_origin"]) == max(trained.frame(s)["timestamp"].max() for s in SERIES)


def test_the_forecast_is_near_the_series_level(api, trained):
    body = predict(api, {"series_ids": ["site-01"]})
    history = trained.frame("site-01")["load_kw"].tail(24 * 7)
    values = [row["value"] for row in body["forecasts"]]
    assert history.min() * 0.5 < min(values) and max(values) < history.max() * 1.5


def test_a_shorter_horizon_and_one_past_the_trained_horizon(api):
    short = predict(api, {"horizon": 6})
    assert short["horizon"] == 6 and len(short["forecasts"]) == len(SERIES) * 6
    refused = predict(api, {"horizon": HORIZON + 1}, status=422)
    assert refused["field"] == "horizon" and str(HORIZON) in refused["message"]


def test_quantiles_come_in_order_around_the_forecast(api):
    body = predict(api, {"quantiles": [0.9, 0.1, 0.5]})
    assert body["quantiles"] == [0.9, 0.1, 0.5]
    for row in body["forecasts"]:
        q = row["quantiles"]
        assert set(q) == {"0.1", "0.5", "0.9"}
        assert q["0.1"] < q["0.5"] < q["0.9"]
        assert q["0.1"] <= row["value"] <= q["0.9"]


def test_series_ids_choose_the_series_and_one_without_history_is_a_422(api):
    body = predict(api, {"series_ids": ["site-02"]})
    assert {row["series_id"] for row in body["forecasts"]} == {"site-02"}
    refused = predict(api, {"series_ids": ["site-02", "site-99"]}, status=422)
    assert refused["field"] == "series_ids" and "site-99" in refused["message"]


def _history_rows(frame: pd.DataFrame, series_id: str | None = None) -> list[dict]:
    return [
        {
            "timestamp": row.timestamp.isoformat(),
            "series_id": series_id or row.series_id,
            "load_kw": row.load_kw,
            "temperature_c": row.temperature_c,
        }
        for row in frame.itertuples()
    ]


def test_history_in_the_body_gives_the_forecast_of_the_same_rows_in_the_store(api, trained):
    stored = predict(api, {"series_ids": ["site-01"], "quantiles": [0.1, 0.9]})
    tail = trained.frame("site-01").tail(24 * 20)  # more than the model needs: older rows are ignored
    sent = predict(api, {"history": _history_rows(tail), "quantiles": [0.1, 0.9]})
    assert [(r["timestamp"], r["step"]) for r in sent["forecasts"]] == [
        (r["timestamp"], r["step"]) for r in stored["forecasts"]
    ]
    for ours, theirs in zip(sent["forecasts"], stored["forecasts"], strict=True):
        assert ours["value"] == pytest.approx(theirs["value"], rel=1e-6)
        assert ours["quantiles"] == pytest.approx(theirs["quantiles"], rel=1e-6)


def test_a_series_the_model_never_saw_is_forecast_and_listed(api, trained):
    tail = trained.frame("site-01").tail(24 * 20)
    body = predict(api, {"history": _history_rows(tail, "site-new") + _history_rows(trained.frame("site-02"))})
    assert body["unseen_series"] == ["site-new"]
    assert {row["series_id"] for row in body["forecasts"]} == {"site-new", "site-02"}
    assert all(row["value"] > 0 for row in rows_of(body, "site-new"))


def test_series_ids_filter_the_history_in_the_body_too(api, trained):
    rows = _history_rows(trained.frame("site-01")) + _history_rows(trained.frame("site-02"))
    body = predict(api, {"history": rows, "series_ids": ["site-02"]})
    assert {row["series_id"] for row in body["forecasts"]} == {"site-02"}
    refused = predict(api, {"history": rows, "series_ids": ["site-03"]}, status=422)
    assert refused["field"] == "series_ids"


def test_a_history_too_short_or_without_the_target_is_a_422_naming_it(api, trained):
    short = predict(api, {"history": _history_rows(trained.frame("site-01").tail(3))}, status=422)
    assert short["field"] == "history" and "site-01" in short["message"]
    rows = [{k: v for k, v in row.items() if k != "load_kw"} for row in _history_rows(trained.frame("site-01"))]
    missing = predict(api, {"history": rows}, status=422)
    assert missing["field"] == "history.load_kw"


def test_include_history_answers_the_rows_forecast_from(api, trained):
    body = predict(api, {"series_ids": ["site-01"], "include_history": True})
    history = body["history"]
    assert {point["series_id"] for point in history} == {"site-01"}
    stored = trained.frame("site-01")
    assert at(history[-1]["timestamp"]) == stored["timestamp"].max()
    assert history[-1]["value"] == pytest.approx(stored["load_kw"].iloc[-1])
    assert len(history) >= 24 * 7  # a weekly season's lags need a week of history


def test_an_explicit_version_answers_and_a_missing_one_is_a_404(api, trained):
    assert predict(api, {"version": "1.0.0"})["model_id"] == trained.first
    missing = predict(api, {"version": "9.0.0"}, status=404)
    assert (missing["error"], missing["field"]) == ("not_found", "version")


def test_the_champion_alias_is_the_default_version(api, trained):
    client = MlflowClient(tracking_uri=trained.settings.resolved_mlflow_tracking_uri)
    client.set_registered_model_alias("t1.site_load", "champion", "1")  # MLflow's version 1 is semver 1.0.0
    try:
        assert predict(api)["model_id"] == trained.first
        assert predict(api, {"version": "1.1.0"})["model_id"] == trained.latest
    finally:
        client.delete_registered_model_alias("t1.site_load", "champion")
    assert predict(api)["model_id"] == trained.latest


def test_a_version_trainforge_did_not_register_is_passed_over(api, trained):
    client = MlflowClient(tracking_uri=trained.settings.resolved_mlflow_tracking_uri)
    by_hand = client.create_model_version(
        "t1.site_load", source=client.get_model_version_download_uri("t1.site_load", "2")
    )
    try:
        assert predict(api)["model_id"] == trained.latest  # the newest version has no model id: the newest that has
        client.set_registered_model_alias("t1.site_load", "champion", by_hand.version)
        assert predict(api)["model_id"] == trained.latest  # nor does the champion
    finally:
        client.delete_model_version("t1.site_load", by_hand.version)  # its alias goes with it


def test_an_unknown_model_and_another_tenants_model_are_the_same_404(api):
    unknown = predict(api, {"tenant_id": "t2"}, who="t2", path="/ai/models/no_such_model/predict", status=404)
    foreign = predict(api, {"tenant_id": "t2"}, who="t2", status=404)  # t1 has site_load; t2 does not
    assert unknown["field"] == foreign["field"] == "model_name"
    assert foreign["message"].replace("site_load", "no_such_model") == unknown["message"]
    with_version = predict(api, {"tenant_id": "t2", "version": "1.0.0"}, who="t2", status=404)
    assert with_version["field"] == "version" and "t1" not in with_version["message"]


def test_a_key_names_only_its_own_tenant_and_an_admin_any(api, trained):
    refused = predict(api, {"tenant_id": "t1"}, who="t2", status=403)
    assert refused["field"] == "tenant_id"
    assert predict(api, {"tenant_id": "t1"}, who="admin")["model_id"] == trained.latest
    assert api.client.post(PATH, json={"tenant_id": "t1"}, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_second_forecast_is_served_by_the_cached_model(api, trained):
    cache = api.app.state.predictor.cache
    predict(api, {"series_ids": ["site-01"]})
    assert cache.loads == 1
    model = cache.peek(trained.latest)
    assert model is not None
    predict(api, {"series_ids": ["site-02"], "horizon": 3})
    predict(api, {"version": "1.1.0"})
    assert cache.loads == 1 and cache.peek(trained.latest) is model  # not loaded again
    predict(api, {"version": "1.0.0"})
    assert cache.loads == 2 and cache.peek(trained.first) is not None  # another version is another model


def test_concurrent_first_forecasts_load_the_model_once(api, trained):
    with ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda series: predict(api, {"series_ids": [series]}), [*SERIES, *SERIES, *SERIES]))
    assert {body["model_id"] for body in bodies} == {trained.latest}
    assert api.app.state.predictor.cache.loads == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"horizon": "24"}, "horizon"),
        ({"horizon": 0}, "horizon"),
        ({"quantiles": [1.5]}, "quantiles.0"),
        ({"quantiles": [i / 100 for i in range(1, 30)]}, "quantiles"),
        ({"version": "v1"}, "version"),
        ({"series_ids": ["bad\u200bid"]}, "series_ids.0"),
        ({"history": [{"series_id": "site-01", "load_kw": 1}]}, "history.0.timestamp"),
        ({"history": [{"timestamp": "2024-01-01T00:00:00Z", "series_id": "s", "load_kw": "x"}]}, "history.0.load_kw"),
        ({"tenant_id": "no.dots"}, "tenant_id"),
        ({"model": "site_load"}, "model"),
    ],
)
def test_a_bad_field_is_a_422_naming_it(api, body, field):
    assert predict(api, body, status=422)["field"] == field


def test_a_bad_model_name_is_a_422_naming_it(api):
    assert predict(api, path="/ai/models/bad.name/predict", status=422)["field"] == "model_name"


def test_every_field_of_the_request_and_response_is_documented(api):
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    undocumented = [
        f"{name}.{field}"
        for name in ("PredictRequest", "HistoryRow", "PredictResponse", "ForecastRow", "HistoryPoint")
        for field, spec in schemas[name]["properties"].items()
        if not spec.get("description")
    ]
    assert undocumented == []
