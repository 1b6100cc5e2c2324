"""``trainforge models predict`` against the API in process, with the models ``trained_models`` trained."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import TRAINED_HORIZON as HORIZON
from tests.integration.conftest import TRAINED_SERIES as SERIES
from tests.integration.conftest import ApiOptions, TrainedModels


@pytest.fixture
def api_options(trained_models: TrainedModels) -> ApiOptions:
    return trained_models.api_options()


def predict(run_cli, options: str = "", *args: str):
    """``trainforge models predict site_load --tenant t1`` with ``options`` (split at spaces) and ``args``."""
    return run_cli("models", "predict", "site_load", "--tenant", "t1", *options.split(), *args)


def test_the_table_shows_every_series_and_step_of_the_latest_version(run_cli, trained_models):
    result = predict(run_cli)
    assert result.exit_code == 0, result.output
    assert f"Forecast of {trained_models.latest}, {HORIZON} steps" in result.output
    lines = [line for line in result.output.splitlines() if any(series in line for series in SERIES)]
    assert len(lines) == len(SERIES) * HORIZON


def test_json_is_the_api_response(run_cli, trained_models):
    result = predict(run_cli, "--series site-02 --horizon 6 --quantile 0.1 --quantile 0.9 --version 1.0.0 -o json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["model_id"] == trained_models.first
    assert [(row["series_id"], row["step"]) for row in body["forecasts"]] == [("site-02", k) for k in range(1, 7)]
    assert all(set(row["quantiles"]) == {"0.1", "0.9"} for row in body["forecasts"])


def test_a_history_file_is_forecast_from_with_its_own_column_names(run_cli, trained_models, tmp_path):
    frame = trained_models.frame("site-01").tail(24 * 14).rename(columns={"series_id": "site", "timestamp": "time"})
    frame.to_csv(tmp_path / "history.csv", index=False)
    frame.to_parquet(tmp_path / "history.parquet", index=False)
    stored = json.loads(predict(run_cli, "--series site-01 -o json").stdout)
    for name in ("history.csv", "history.parquet"):
        result = predict(run_cli, "--timestamp-col time --series-col site -o json", "--history", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        sent = json.loads(result.stdout)
        assert [row["value"] for row in sent["forecasts"]] == pytest.approx(
            [row["value"] for row in stored["forecasts"]], rel=1e-6
        )


def test_a_history_file_without_the_series_column_is_refused_before_any_request(run_cli, trained_models, tmp_path):
    trained_models.frame("site-01").tail(200).to_csv(tmp_path / "history.csv", index=False)
    result = predict(run_cli, "--series-col site --history", str(tmp_path / "history.csv"))
    assert result.exit_code == 2 and "--series-col" in result.output


def test_the_plot_is_a_png_with_history_forecast_and_band(run_cli, tmp_path):
    path = tmp_path / "forecast.png"
    result = predict(run_cli, "--quantile 0.1 --quantile 0.9 --plot", str(path))
    assert result.exit_code == 0, result.output
    assert f"plot of {len(SERIES)} series written to {path}" in result.output
    from matplotlib.image import imread

    image = imread(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.shape[0] > image.shape[1] / 2  # one 3.2-inch panel per series, stacked
    assert (image[..., :3] < 0.95).mean() > 0.01  # something is drawn on the white canvas


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (f"--horizon {HORIZON + 1}", "(field: horizon)"),
        ("--series site-99", "(field: series_ids)"),
        ("--version 3.0.0", "404"),
        ("--quantile 1.5", "(field: quantiles.0)"),
    ],
)
def test_an_api_error_prints_its_field_and_exits_1(run_cli, args, expected):
    result = predict(run_cli, args)
    assert result.exit_code == 1 and expected in result.output
