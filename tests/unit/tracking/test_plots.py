"""The forecast-vs-actual plot logged with every training run."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from trainforge.tracking.plots import forecast_vs_actual


def predictions(series: list[str], steps: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    timestamps = pd.date_range("2024-03-01", periods=steps, freq="h", tz="UTC")
    frames = []
    for number, series_id in enumerate(series):
        actual = 100 + 10 * number + rng.normal(size=steps)
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": timestamps,
                    "series_id": series_id,
                    "actual": actual,
                    "forecast": actual + 1.0,  # MAE exactly 1
                    "baseline": actual - 4.0,  # MAE exactly 4
                }
            )
        )
    # Shuffled: the plot must sort by time itself.
    return pd.concat(frames).sample(frac=1.0, random_state=1).reset_index(drop=True)


def test_one_panel_per_series_up_to_max_series() -> None:
    figure = forecast_vs_actual(predictions(["s3", "s1", "s2", "s4"], steps=48), max_series=3)
    axes = figure.get_axes()
    assert len(axes) == 3
    # Series are chosen in sorted order, so a run's plot is reproducible.
    assert [a.get_title().split(":")[0] for a in axes] == ["s1", "s2", "s3"]


def test_panels_are_labelled_with_each_series_mae() -> None:
    figure = forecast_vs_actual(predictions(["a", "b"], steps=30), value_label="load_kw")
    for axes in figure.get_axes():
        assert "MAE model 1, baseline 4" in axes.get_title()
        assert axes.get_xlabel() == "timestamp"
        assert axes.get_ylabel() == "load_kw"
        assert [line.get_label() for line in axes.get_lines()] == ["actual", "model", "baseline"]


def test_only_the_last_steps_are_drawn_in_time_order() -> None:
    figure = forecast_vs_actual(predictions(["a"], steps=100), last_steps=24)
    (axes,) = figure.get_axes()
    x_values = axes.get_lines()[0].get_xdata()
    assert len(x_values) == 24
    assert list(x_values) == sorted(x_values)


def test_renders_headless_on_the_agg_canvas() -> None:
    figure = forecast_vs_actual(predictions(["a", "b"], steps=24))
    assert isinstance(figure.canvas, FigureCanvasAgg)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_empty_predictions_give_a_single_explanatory_panel() -> None:
    empty = predictions(["a"], steps=1).iloc[0:0]
    figure = forecast_vs_actual(empty)
    (axes,) = figure.get_axes()
    assert [text.get_text() for text in axes.texts] == ["no test predictions"]


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="baseline"):
        forecast_vs_actual(predictions(["a"], steps=5).drop(columns=["baseline"]))
