"""Registered models: forecast with one (``/ai/models/{model_name}/predict``)."""

from __future__ import annotations

from typing import Annotated

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
    forecast = predictor.predict(model_name, request)
    # Written by pydantic directly: FastAPI's encoder would take a second per 24,000 rows (1,000 series a day ahead).
    return Response(content=response_of(forecast).model_dump_json(), media_type="application/json")


def response_of(forecast: Forecast) -> PredictResponse:
    """The response body of a forecast."""
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
            table["origin"].tolist(),
            table["timestamp"].tolist(),
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
                frame["series_id"].astype(str).tolist(),
                frame["timestamp"].tolist(),
                frame["value"].tolist(),
                strict=True,
            )
        ]
    return PredictResponse.model_validate(
        {
            "model_id": forecast.model_id,
            "forecast_origin": forecast.forecast_origin,
            "horizon": forecast.horizon,
            "quantiles": forecast.quantiles,
            "unseen_series": forecast.unseen_series,
            "forecasts": rows,
            "history": history,
        }
    )
