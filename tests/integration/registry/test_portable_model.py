"""The registered model on its own: a fresh process with MLflow but no trainforge forecasts as the service does,
and ``mlflow models serve`` serves it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.forecasters import hourly_history, small_forecaster
from trainforge.pipeline.result import Lineage, PipelineResult
from trainforge.registry import JobIdentity, ModelRegistry

# Run in a new interpreter: importing trainforge there fails, so the model can only load through MLflow and the
# files it logged.
FRESH_PROCESS = """
import sys
sys.modules["trainforge"] = None  # any `import trainforge...` now raises ImportError
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
history = pd.read_parquet(sys.argv[3])
table = model.predict(history, params={"horizon": 12, "quantiles": [0.05, 0.5, 0.95]})
table.to_parquet(sys.argv[4])
print(sorted(name for name in sys.modules if name.startswith("trainforge") and sys.modules[name] is not None))
"""


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("portable")
    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    registry = ModelRegistry(tracking_uri, str(home / "artifacts"))
    history = hourly_history(n_series=3)
    forecaster = small_forecaster(history, horizon=12)
    result = PipelineResult(
        model_family="lightgbm",
        model=forecaster,
        hyperparams={"num_leaves": 15},
        metrics={"mae": 1.0},
        lineage=Lineage("t1", "meters", "load_kw", "2024-01-01", "2024-01-29", len(history), 3, "a" * 64, []),
        test_predictions=None,
    )
    job = JobIdentity(job_id="job-1", tenant_id="t1", model_name="load", model_type="forecast", feature_set="meters")
    version = registry.register_job_result(job, result)
    return registry, tracking_uri, version, history, home


def test_a_fresh_process_with_mlflow_alone_forecasts_as_the_service_does(registered) -> None:
    registry, tracking_uri, version, history, home = registered
    service = registry.load_model(version.model_id).unwrap_python_model().forecast(history, 12, [0.05, 0.5, 0.95])
    history.to_parquet(home / "history.parquet")
    out = home / "forecast.parquet"
    uri = f"models:/{version.mlflow_model_name}/{version.mlflow_version}"
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, tracking_uri, uri, str(home / "history.parquet"), str(out)],
        capture_output=True,
        text=True,
        cwd=home,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"  # nothing of trainforge was imported
    fresh = pd.read_parquet(out)
    pd.testing.assert_frame_equal(fresh, service)
    assert len(fresh) == 3 * 12 and list(fresh.columns)[-3:] == ["q0.05", "q0.5", "q0.95"]


def test_mlflow_models_serve_answers_with_the_forecast(registered, tmp_path: Path) -> None:
    registry, tracking_uri, version, history, _ = registered
    port = _free_port()
    uri = f"models:/{version.mlflow_model_name}/{version.mlflow_version}"
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        tail = history.groupby("series_id").tail(200)
        body = {
            "dataframe_split": json.loads(tail.assign(timestamp=tail["timestamp"].astype(str)).to_json(orient="split")),
            "params": {"horizon": 3},
        }
        body["dataframe_split"].pop("index", None)
        answer = _post_when_up(f"http://127.0.0.1:{port}/invocations", body)
        assert answer.status_code == 200, answer.text
        served = pd.DataFrame(answer.json()["predictions"])
        expected = registry.load_model(version.model_id).unwrap_python_model().forecast(tail, 3)
        assert served["step"].tolist() == expected["step"].tolist()
        pd.testing.assert_series_equal(served["value"], expected["value"], check_names=False)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post_when_up(url: str, body: dict, timeout: float = 120.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.post(url, json=body, timeout=30)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
