"""The predict API's latency: one 24-step forecast of one series, and every series of a 1,000-series feature set.

A real ``trainforge serve`` (its own home, embedded worker) gets a synthetic hourly feature set of ``--series``
sites (the demo load generator: daily and weekly profiles, temperature), trains a forecast model on it through
the API, then answers over HTTP on one keep-alive connection:

* ``--requests`` sequential forecasts of one series (``series_ids`` = one site, horizon 24, history read from the
  feature store), after ``--warmup`` unmeasured ones: p50, p99, mean. Goal: p99 < 50 ms.
* the same with the history in the body (the last two weeks of the series).
* ``--all-reps`` forecasts of every series in one request (no ``series_ids``): the median time, end to end.

The first request loads the model (MLflow's load, then the cache): reported apart as ``cold``. A row of
``GET /ai/training/jobs?page_size=1`` (a key check and one database read) shows the floor under any request.

Usage: .venv/bin/python bench/predict.py [--series 1000] [--days 35] [--requests 300]
The last line printed is one JSON object: p50_ms, p99_ms, body_p99_ms, all_series_s, series, rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

# Run as `python bench/x.py`, sys.path starts at bench/: make the repository importable (see bench/e2e_job.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_home, console, print_table
from trainforge.features.demo_data import generate_demo_load
from trainforge.testing import local_auth, trainforge_server, wait_for

HORIZON = 24
TENANT = "bench"
MODEL = "synthetic_load"
PREDICT = f"/ai/models/{MODEL}/predict"


def train(client: httpx.Client) -> str:
    """Train the model through the API; its model id."""
    body = {
        "tenant_id": TENANT,
        "model_type": "forecast",
        "model_name": MODEL,
        "feature_set": "synthetic",
        "config": {"target_variable": "load_kw", "horizon": HORIZON},
    }
    accepted = client.post("/ai/training/jobs/start", json=body)
    accepted.raise_for_status()
    job_id = accepted.json()["job_id"]

    def finished():
        job = client.get(f"/ai/training/jobs/{job_id}").json()
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    job = wait_for(finished, 1800, "the training job", interval=1.0)
    if job["status"] != "completed":
        raise SystemExit(f"the training job ended {job['status']}: {job['error_message']}")
    console.print(
        f"trained {job['model_id']} in {job['duration_seconds']:.1f} s (test MAE {job['metrics']['mae']:.2f})"
    )
    return job["model_id"]


def timed(client: httpx.Client, body: dict) -> tuple[float, dict]:
    start = time.perf_counter()
    response = client.post(PREDICT, json=body)
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"predict answered {response.status_code}: {response.text[:500]}")
    return seconds, response.json()


def latencies(client: httpx.Client, body: dict, *, requests: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        timed(client, body)
    return [timed(client, body)[0] * 1000 for _ in range(requests)]


def summary(name: str, values_ms: list[float]) -> list[object]:
    return [
        name,
        len(values_ms),
        float(np.percentile(values_ms, 50)),
        float(np.percentile(values_ms, 99)),
        statistics.fmean(values_ms),
        max(values_ms),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series of the feature set")
    parser.add_argument("--days", type=int, default=35, help="days of hourly history per series")
    parser.add_argument("--requests", type=int, default=300, help="measured one-series requests")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured one-series requests first")
    parser.add_argument("--all-reps", type=int, default=5, help="every-series requests")
    args = parser.parse_args()

    frame = generate_demo_load(n_series=args.series, periods=24 * args.days)
    console.print(f"synthetic feature set: {len(frame):,} rows, {args.series} series")
    with tempfile.TemporaryDirectory(prefix="trainforge-bench-") as tmp:
        home, store = bench_home(tmp)
        store.write_frame(TENANT, "synthetic", frame, timestamp_col="timestamp", series_col="site_id")
        env = {"TRAINFORGE_RAY_NUM_CPUS": "2", "TRAINFORGE_TRAIN_THREADS": "2"}
        with trainforge_server(home, env=env) as base:
            client = httpx.Client(base_url=base, headers=local_auth(home), timeout=600)
            model_id = train(client)
            # The floor under any request: authentication and one read of the metadata database over HTTP.
            floor_ms = []
            for index in range(args.warmup + args.requests):
                start = time.perf_counter()
                client.get("/ai/training/jobs", params={"page_size": 1}).raise_for_status()
                if index >= args.warmup:
                    floor_ms.append((time.perf_counter() - start) * 1000)
            one = {"tenant_id": TENANT, "series_ids": ["site-01"], "horizon": HORIZON}
            cold, first = timed(client, one)
            assert first["model_id"] == model_id and len(first["forecasts"]) == HORIZON
            store_ms = latencies(client, one, requests=args.requests, warmup=args.warmup)

            tail = frame[frame["site_id"] == "site-01"].tail(24 * 14)
            history = [
                {"timestamp": t.isoformat(), "series_id": "site-01", "load_kw": y, "temperature_c": c}
                for t, y, c in zip(tail["timestamp"], tail["load_kw"], tail["temperature_c"], strict=True)
            ]
            body_ms = latencies(client, {**one, "history": history}, requests=args.requests, warmup=args.warmup)

            everything = {"tenant_id": TENANT, "horizon": HORIZON}
            all_runs = []
            for _ in range(args.all_reps):
                seconds, answer = timed(client, everything)
                all_runs.append(seconds)
            rows = len(answer["forecasts"])
            assert rows == args.series * HORIZON, rows
            client.close()

    print_table(
        f"Predict API: {model_id}, horizon {HORIZON}, one keep-alive client (ms)",
        ["request", "n", "p50", "p99", "mean", "max"],
        [
            summary("floor: GET /ai/training/jobs?page_size=1", floor_ms),
            ["cold: first request (loads the model)", 1, cold * 1000, cold * 1000, cold * 1000, cold * 1000],
            summary("1 series, history from the feature store", store_ms),
            summary("1 series, 14 days of history in the body", body_ms),
            summary(f"all {args.series} series ({rows:,} rows), store history", [s * 1000 for s in all_runs]),
        ],
    )
    print(
        json.dumps(
            {
                "p50_ms": round(float(np.percentile(store_ms, 50)), 2),
                "p99_ms": round(float(np.percentile(store_ms, 99)), 2),
                "body_p99_ms": round(float(np.percentile(body_ms, 99)), 2),
                "all_series_s": round(statistics.median(all_runs), 3),
                "cold_s": round(cold, 3),
                "series": args.series,
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
