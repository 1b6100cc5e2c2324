"""One forecast job through the HTTP API, beside a plain script doing the same work with no service.

Data: the real EIA-930 hourly demand of 23 sub-regions, 2020-2024 (~1M rows); horizon 24; default
hyperparameters. The plain script reads the same Parquet file, builds the same features with the same functions,
fits LightGBM with the same parameters and threads, and computes the same metrics — no queue, no Ray, no MLflow.
Runs alternate (plain, service, plain, service, …) so both see the same machine load.

Usage: .venv/bin/python bench/e2e_job.py [--reps 2] [--regions 23]
The last line printed is one JSON object: service_s, plain_s, ratio (medians over the repetitions).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

# Run as `python bench/x.py` (not `-m bench.x`), sys.path starts at bench/, not at the repository: `bench` would not
# be importable. (bench/ stays on the path, so no bench module may take a standard module's name: not `queue`.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_home, console, eia_regions, print_table
from trainforge.models import lightgbm_forecast
from trainforge.models.families import validate_hyperparams
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import compare_with_baseline
from trainforge.pipeline.prepare import prepare_forecast
from trainforge.testing import local_auth, trainforge_server, wait_for

HORIZON = 24
THREADS = 2


def plain_run(n_regions: int) -> dict[str, float]:
    """The same job as a plain script: read the Parquet file, features, fit, evaluate."""
    clock = start = time.perf_counter()
    laps: dict[str, float] = {}

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        laps[f"{step}_s"] = now - clock
        clock = now

    raw = eia_regions(n_regions)
    frame = raw.rename(columns={"timestamp_utc": "timestamp", "region": "series_id", "cleaned_demand_mw": "y"})
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    frame = frame.sort_values(["series_id", "timestamp"], kind="stable").reset_index(drop=True)
    lap("load")
    design = prepare_forecast(frame, "y", TrainingConfig(horizon=HORIZON), [], "h")
    train, val, test = design.sample("train"), design.sample("val"), design.test_rows()
    lap("prepare")
    params = validate_hyperparams("lightgbm", {})
    model = lightgbm_forecast.fit(train.inputs, train.model_target, val.inputs, val.model_target, params, THREADS)
    before_test = design.sample("before_test")
    model = lightgbm_forecast.fit_rounds(
        before_test.inputs, before_test.model_target, params, model.best_iteration, THREADS
    )
    lap("fit")
    forecast = test.to_forecast(lightgbm_forecast.predict(model, test.inputs))
    metrics = compare_with_baseline(test.actual, forecast, design.baseline(test))
    lap("evaluate")
    return {
        "seconds": time.perf_counter() - start,
        "mae": metrics["mae"],
        "baseline_mae": metrics["baseline_mae"],
        **laps,
    }


def service_run(base: str, auth: dict[str, str]) -> dict[str, float]:
    """Submit over HTTP and poll (as the CLI does, every 0.5 s) until the job ends.

    The time is the server's own record, ``created_at`` → ``completed_at``: exact, where a client's clock would add
    up to one polling interval.
    """
    body = {
        "tenant_id": "bench",
        "model_type": "forecast",
        "model_name": "eia_load",
        "feature_set": "eia930",
        "config": {"target_variable": "cleaned_demand_mw", "horizon": HORIZON},
    }
    clock = time.perf_counter()
    accepted = httpx.post(f"{base}/ai/training/jobs/start", json=body, headers=auth, timeout=30)
    accepted.raise_for_status()
    job_id = accepted.json()["job_id"]

    def finished():
        job = httpx.get(f"{base}/ai/training/jobs/{job_id}", headers=auth, timeout=30).json()
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    job = wait_for(finished, 600, "the job", interval=0.5)
    client_seconds = time.perf_counter() - clock
    seconds = (_parse_time(job["completed_at"]) - _parse_time(job["created_at"])).total_seconds()
    if job["status"] != "completed":
        raise SystemExit(f"the job ended {job['status']}: {job['error_message']}")
    logs = httpx.get(f"{base}/ai/training/jobs/{job_id}/logs", headers=auth, timeout=30).json()["logs"]
    origin = _parse_time(logs[0]["timestamp"])
    for line in logs:
        offset = (_parse_time(line["timestamp"]) - origin).total_seconds()
        console.print(f"  +{offset:6.2f}s {line['step'] or '-':<9} {line['message'][:110]}", markup=False)
    metrics = job["metrics"]
    return {
        "seconds": seconds,
        "client_seconds": client_seconds,
        "mae": metrics["mae"],
        "baseline_mae": metrics["baseline_mae"],
        **{
            f"{step}_s": metrics.get(f"{step}_seconds", float("nan")) for step in ("load", "prepare", "fit", "evaluate")
        },
        "model_id": job["model_id"],
    }


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2, help="repetitions of each side (alternating)")
    parser.add_argument("--regions", type=int, default=23)
    args = parser.parse_args()

    raw = eia_regions(args.regions)
    console.print(f"EIA-930: {len(raw):,} rows, {raw['region'].nunique()} regions")
    with tempfile.TemporaryDirectory(prefix="trainforge-bench-") as tmp:
        home, store = bench_home(tmp)
        store.write_frame("bench", "eia930", raw, timestamp_col="timestamp_utc", series_col="region")
        env = {"TRAINFORGE_RAY_NUM_CPUS": "2", "TRAINFORGE_TRAIN_THREADS": str(THREADS)}
        plain, service = [], []
        with trainforge_server(home, env=env) as base:
            for rep in range(args.reps):
                plain.append(plain_run(args.regions))
                console.print(f"rep {rep + 1}: plain {plain[-1]['seconds']:.1f} s")
                service.append(service_run(base, local_auth(home)))
                console.print(f"rep {rep + 1}: service {service[-1]['seconds']:.1f} s ({service[-1]['model_id']})")

    rows = [
        [
            f"plain #{i + 1}",
            p["seconds"],
            p["mae"],
            p["baseline_mae"],
            p["load_s"],
            p["prepare_s"],
            p["fit_s"],
            p["evaluate_s"],
        ]
        for i, p in enumerate(plain)
    ] + [
        [
            f"service #{i + 1}",
            s["seconds"],
            s["mae"],
            s["baseline_mae"],
            s["load_s"],
            s["prepare_s"],
            s["fit_s"],
            s["evaluate_s"],
        ]
        for i, s in enumerate(service)
    ]
    print_table(
        f"One forecast job, {len(raw):,} rows of EIA-930, horizon {HORIZON}, {THREADS} threads",
        ["run", "wall s", "test MAE", "seasonal-naive MAE", "load s", "prepare s", "fit s", "evaluate s"],
        rows,
    )
    service_s = statistics.median(s["seconds"] for s in service)
    plain_s = statistics.median(p["seconds"] for p in plain)
    print(
        json.dumps(
            {
                "service_s": round(service_s, 2),
                "plain_s": round(plain_s, 2),
                "ratio": round(service_s / plain_s, 3),
                "rows": len(raw),
            }
        )
    )


if __name__ == "__main__":
    main()
