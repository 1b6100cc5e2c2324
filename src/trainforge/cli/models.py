"""``trainforge models``: forecast with registered models over the HTTP API."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from trainforge.cli.client import configure, connect
from trainforge.cli.context import console, errors
from trainforge.cli.forecast_view import forecast_table
from trainforge.cli.options import DEFAULT_API_URL, ApiUrlOption, Output, TenantOption

app = typer.Typer(help="Forecast with registered models (talks to `trainforge serve`).", no_args_is_help=True)
app.callback()(configure)
MODELS = "/ai/models"
# Panels of a plot: the first series in sorted order.
PLOT_SERIES = 6


def history_rows(path: Path, *, timestamp_col: str, series_col: str) -> list[dict[str, Any]]:
    """The rows of a CSV or Parquet file as the request's ``history``: ``timestamp`` (ISO 8601), ``series_id``, and
    every other column as a number or null."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        frame = pd.read_parquet(path) if suffixes.endswith((".parquet", ".pq")) else pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"cannot read {path}: {error}", param_hint="--history") from None
    for option, column in (("--timestamp-col", timestamp_col), ("--series-col", series_col)):
        if column not in frame.columns:
            raise typer.BadParameter(
                f"{path.name} has no column {column!r} (its columns: {', '.join(map(str, frame.columns))})",
                param_hint=option,
            )
    frame = frame.rename(columns={timestamp_col: "timestamp", series_col: "series_id"})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).map(lambda t: t.isoformat())
    frame["series_id"] = frame["series_id"].astype(str)
    rows = frame.to_dict("records")
    return [{name: _json_value(value) for name, value in row.items()} for row in rows]


def _json_value(value: Any) -> Any:
    # NaN is not JSON: a missing value is null.
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def predict_table(body: dict) -> Table:
    """A predict response as a Rich table: its rows, titled with the model and origin, unseen series below."""
    origin = (body["forecast_origin"] or "")[:19]
    table = forecast_table(
        body["forecasts"], title=f"Forecast of {body['model_id']}, {body['horizon']} steps from {origin}"
    )
    if body["unseen_series"]:
        table.caption = f"not seen in training (forecast as unknown series): {', '.join(body['unseen_series'])}"
    return table


def write_plot(body: dict, path: Path) -> None:
    """A PNG of each series' history tail (three horizons), forecast and widest quantile band, one panel per series
    (the first few in sorted order), drawn on an Agg canvas as ``trainforge.tracking.plots`` draws."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib only when plotting
    from matplotlib.figure import Figure

    forecast = pd.DataFrame(
        [
            {**{k: v for k, v in row.items() if k != "quantiles"}, **{f"q{k}": v for k, v in row["quantiles"].items()}}
            for row in body["forecasts"]
        ]
    )
    history = pd.DataFrame(body.get("history") or [], columns=["series_id", "timestamp", "value"])
    for frame in (forecast, history):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    quantiles = sorted(body["quantiles"])
    band = (f"q{quantiles[0]:g}", f"q{quantiles[-1]:g}") if len(quantiles) >= 2 else None
    series_ids = sorted(forecast["series_id"].unique(), key=str)[:PLOT_SERIES]
    height = 3.2 * max(len(series_ids), 1)
    figure = Figure(figsize=(10, height))
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.7 / height, top=1 - 0.45 / height, hspace=0.55)
    for axes, series_id in zip(figure.subplots(len(series_ids) or 1, 1, squeeze=False)[:, 0], series_ids, strict=False):
        ahead = forecast[forecast["series_id"] == series_id].sort_values("timestamp")
        past = history[history["series_id"] == series_id].sort_values("timestamp").tail(3 * body["horizon"])
        axes.plot(past["timestamp"], past["value"], label="history", color="black", linewidth=1.2)
        # The forecast line starts at the last value it was made from, so the two lines join.
        joined = pd.concat([past.tail(1), ahead[["series_id", "timestamp", "value"]]], ignore_index=True)
        axes.plot(joined["timestamp"], joined["value"], label="forecast", color="tab:blue", linewidth=1.2)
        if band is not None:
            axes.fill_between(
                ahead["timestamp"],
                ahead[band[0]],
                ahead[band[1]],
                color="tab:blue",
                alpha=0.2,
                label=f"{band[0]} to {band[1]}",
            )
        axes.set_title(f"{series_id} ({body['model_id']})")
        axes.legend(loc="upper left", fontsize="small")
    figure.savefig(path, format="png", dpi=100)
    figure.clear()


@app.command("predict")
def predict(
    model_name: Annotated[str, typer.Argument(help="Registered model name.")],
    tenant: TenantOption,
    version: Annotated[
        str | None, typer.Option("--version", help="Model version (1.0.2). Default: the champion, else the latest.")
    ] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Only this series (repeatable). Default: every series.")
    ] = None,
    horizon: Annotated[
        int | None, typer.Option("--horizon", min=1, help="Steps ahead. Default: the model's trained horizon.")
    ] = None,
    quantile: Annotated[
        list[float] | None, typer.Option("--quantile", help="A quantile in (0, 1) to add, e.g. 0.1 (repeatable).")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            exists=True,
            dir_okay=False,
            help="CSV or Parquet of history rows to forecast from. Default: the model's feature set.",
        ),
    ] = None,
    timestamp_col: Annotated[str, typer.Option("--timestamp-col", help="The --history file's time column.")] = (
        "timestamp"
    ),
    series_col: Annotated[str, typer.Option("--series-col", help="The --history file's series column.")] = "series_id",
    plot: Annotated[
        Path | None, typer.Option("--plot", dir_okay=False, help="Also write a PNG: history, forecast, band.")
    ] = None,
    output: Annotated[
        Output, typer.Option("--output", "-o", help="table, or json: the API's response as it is.")
    ] = Output.TABLE,
    url: ApiUrlOption = DEFAULT_API_URL,
) -> None:
    """Forecast the next steps of a model's series (a table, or the API's JSON), optionally plotted."""
    body: dict[str, Any] = {"tenant_id": tenant, "quantiles": quantile or []}
    if version is not None:
        body["version"] = version
    if series:
        body["series_ids"] = series
    if horizon is not None:
        body["horizon"] = horizon
    if history is not None:
        body["history"] = history_rows(history, timestamp_col=timestamp_col, series_col=series_col)
    if plot is not None:
        body["include_history"] = True
    answer = connect(url).call("POST", f"{MODELS}/{model_name}/predict", json=body)
    if output is Output.JSON:
        typer.echo(json.dumps(answer, indent=2))
    else:
        console.print(predict_table(answer))
    if plot is not None:
        write_plot(answer, plot)
        shown = min(PLOT_SERIES, len({row["series_id"] for row in answer["forecasts"]}))
        errors.print(f"plot of {shown} series written to {plot}")
