"""Registered models: forecast with one (``/ai/models/{model_name}/predict``)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
import pydantic_core
from fastapi import APIRouter, Path, Response

from trainforge.api.deps import PredictorDep, PrincipalDep
from trainforge.api.responses import COMMON, FORBIDDEN, not_found
from trainforge.api.schemas import MODELS_PREFIX, PredictResponse
from trainforge.names import NAME_PATTERN, NAME_RULE
from trainforge.serving import Forecast, PredictRequest, quantile_key

router = APIRouter(prefix=MODELS_PREFIX, tags=["models"], responses=COMMON)

ModelName = Annotated[
    str, Path(max_length=128, pattern=NAME_PATTERN.pattern, description=f"Registered model name: {NAME_RULE}.")
]


@router.post(
    "/{model_name}/predict", response_model=PredictResponse, responses={**FORBIDDEN, **not_found("model or version")}
)
def predict(
    model_name: ModelName, request: PredictRequest, predictor: PredictorDep, principal: PrincipalDep
) -> Response:
    """Forecast the next ``horizon`` steps of each series with a registered model of ``tenant_id``.

    The version is ``version`` if given, else the one carrying the MLflow alias ``champion``, else the latest. The
    history is ``history`` if given, else the latest rows of the feature set the model was trained on. A series the
    model was not trained on is forecast all the same (from its own history, the series unknown to the model) and
    listed in ``unseen_series``. Loaded models are kept in memory, so a version's second forecast does not load it.
    """
    principal.act_for(request.tenant_id)
    return Response(content=response_body(predictor.predict(model_name, request)), media_type="application/json")


def response_body(forecast: Forecast) -> bytes:
    """The JSON of a :class:`PredictResponse`, written from the forecast's columns.

    Neither validated nor encoded by pydantic models: for 24,000 rows (1,000 series a day ahead) FastAPI's encoder
    took seconds and a validated model a second (pandas timestamps take pydantic's slow path); plain lists and
    ``pydantic_core.to_json`` take ~80 ms. The integration tests validate the body against ``PredictResponse``.
    """
    table = forecast.table
    keys = [quantile_key(q) for q in forecast.quantiles]
    if keys:
        columns = [table[f"q{key}"].tolist() for key in keys]
        quantile_rows = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
    else:
        quantile_rows = [{} for _ in range(len(table))]
    rows = [
        {"series_id": series_id, "origin": origin, "timestamp": timestamp, "step": step, "value": value, "quantiles": q}
        for series_id, origin, timestamp, step, value, q in zip(
            table["series_id"].astype(str).tolist(),
            _iso(table["origin"]),
            _iso(table["timestamp"]),
            table["step"].tolist(),
            table["value"].tolist(),
            quantile_rows,
            strict=True,
        )
    ]
    history = None
    if forecast.history is not None:
        frame = forecast.history
        history = [
            {"series_id": s, "timestamp": t, "value": v}
            for s, t, v in zip(
                frame["series_id"].astype(str).tolist(), _iso(frame["timestamp"]), frame["value"].tolist(), strict=True
            )
        ]
    origin = forecast.forecast_origin
    body = {
        "model_id": forecast.model_id,
        "forecast_origin": None if origin is None else _iso(pd.Series([origin]))[0],
        "horizon": forecast.horizon,
        "quantiles": forecast.quantiles,
        "unseen_series": forecast.unseen_series,
        "forecasts": rows,
        "history": history,
    }
    return pydantic_core.to_json(body, inf_nan_mode="null")  # a missing value is null, as PredictResponse says


def _iso(times: pd.Series) -> list[str]:
    """UTC timestamps as ISO 8601 text with a ``Z``, to the second (a forecast grid has no finer step)."""
    utc = pd.to_datetime(times, utc=True).to_numpy(dtype="datetime64[s]")
    return [text + "Z" for text in np.datetime_as_string(utc, unit="s").tolist()]
