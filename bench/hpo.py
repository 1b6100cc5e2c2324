"""A 50-trial tuning study through the service, beside a plain sequential Optuna loop doing the same search.

Data: the real EIA-930 hourly demand of 23 sub-regions, 2020-2024 (~1M rows), horizon 24, the same features as
``bench/e2e_job.py``. Search space: the specification's (n_estimators 50-300, learning_rate 0.01-0.3 log,
max_depth 3-10, subsample 0.6-1.0). Both sides use TPE with the same seed and LightGBM on 2 threads in all.

- plain: ``optuna.create_study(sampler=TPESampler(seed))`` in memory, ``study.optimize`` one trial at a time, each
  trial a ``lightgbm_forecast.fit`` (which builds its binned Dataset from the frame, as a plain script does), then a
  refit of the best parameters and its test MAE. No queue, no Ray, no MLflow.
- service: ``POST /ai/training/optimize/start`` on a running ``trainforge serve`` (local Ray, SQLite), polled until
  the job ends; its test MAE is the registered model's.

It reports wall time, the best validation MAE, the refit model's test MAE, and when each side first came within
1% of its own final best validation MAE. A second study of 500 instant trials (a tiny series, 1-3 boosting rounds)
measures the service's overhead per trial: its wall time minus the trials' own compute, per trial.

Usage: .venv/bin/python -m bench.hpo [--trials 50] [--regions 23] [--instant-trials 500] [--overhead-only]
The last line printed is one JSON object: service_s, plain_s, ratio, service_test_mae, plain_test_mae,
overhead_ms_per_trial. With ``--overhead-only`` only the instant-trial study runs (a minute instead of half an
hour, and no EIA data needed); the other fields are null.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import optuna

# Run as `python bench/x.py` (not `-m bench.x`), sys.path starts at bench/, not at the repository: `bench` would not
# be importable. (bench/ stays on the path, so no bench module may take a standard module's name: not `queue`.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_home, console, eia_regions, print_table
from trainforge.features.demo_data import generate_demo_load
from trainforge.models import lightgbm_forecast
from trainforge.models.families import validate_hyperparams
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import compare_with_baseline
from trainforge.pipeline.prepare import prepare_forecast
from trainforge.testing import local_auth, trainforge_server, wait_for

HORIZON = 24
THREADS = 2
SEED = 0
# The specification's search space (SPECIFICATION.md, "Start HPO Study").
SPACE: dict[str, dict[str, Any]] = {
    "n_estimators": {"type": "int", "low": 50, "high": 300},
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_depth": {"type": "int", "low": 3, "high": 10},
    "subsample": {"type": "float", "low": 0.6, "high": 1.0},
}


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, spec in SPACE.items():
        if spec["type"] == "int":
            params[name] = trial.suggest_int(name, spec["low"], spec["high"], log=spec.get("log", False))
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return params


def within_one_percent(finished: list[tuple[float, float]]) -> float:
    """Seconds at which the best value so far first came within 1% of the final best.

    Args:
        finished: (seconds since the study started, value) of each finished trial, in any order.
    """
    finished = sorted(finished)
    final = min(value for _, value in finished)
    best = float("inf")
    for seconds, value in finished:
        best = min(best, value)
        if best <= final * 1.01:
            return seconds
    return float("nan")


def plain_run(n_regions: int, n_trials: int) -> dict[str, float]:
    """The plain loop: the features once, then ``n_trials`` sequential TPE trials, then a refit of the best."""
    start = time.perf_counter()
    raw = eia_regions(n_regions)
    frame = raw.rename(columns={"timestamp_utc": "timestamp", "region": "series_id", "cleaned_demand_mw": "y"})
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    frame = frame.sort_values(["series_id", "timestamp"], kind="stable").reset_index(drop=True)
    design = prepare_forecast(frame, "y", TrainingConfig(horizon=HORIZON), [], "h")
    train, val = design.sample("train"), design.sample("val")
    X_train, y_train, X_val, y_val = train.inputs, train.model_target, val.inputs, val.model_target
    finished: list[tuple[float, float]] = []

    def objective(trial: optuna.Trial) -> float:
        params = validate_hyperparams("lightgbm", _suggest(trial))
        model = lightgbm_forecast.fit(X_train, y_train, X_val, y_val, params, THREADS)
        forecast = val.to_forecast(lightgbm_forecast.predict(model, X_val))
        value = float(np.mean(np.abs(val.actual - forecast)))
        finished.append((time.perf_counter() - start, value))
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=SEED))
    study.optimize(objective, n_trials=n_trials)
    best = validate_hyperparams("lightgbm", study.best_params)
    model = lightgbm_forecast.fit(X_train, y_train, X_val, y_val, best, THREADS)
    before_test = design.sample("before_test")
    model = lightgbm_forecast.fit_rounds(
        before_test.inputs, before_test.model_target, best, model.best_iteration, THREADS
    )
    test = design.test_rows()
    forecast = test.to_forecast(lightgbm_forecast.predict(model, test.inputs))
    metrics = compare_with_baseline(test.actual, forecast, design.baseline(test))
    return {
        "seconds": time.perf_counter() - start,
        "best_val_mae": study.best_value,
        "test_mae": metrics["mae"],
        "within_1pct_s": within_one_percent(finished),
        "trials": float(len(study.trials)),
        "pruned": 0.0,
    }


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_study(base: str, auth: dict[str, str], body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Start a study over HTTP, poll it (every 0.5 s, as the CLI does) until its job ends; return its record."""
    accepted = httpx.post(f"{base}/ai/training/optimize/start", json=body, headers=auth, timeout=30)
    if accepted.status_code != 202:
        raise SystemExit(f"the study was refused: {accepted.status_code} {accepted.text}")
    study_id, job_id = accepted.json()["study_id"], accepted.json()["job_id"]

    def finished():
        job = httpx.get(f"{base}/ai/training/jobs/{job_id}", headers=auth, timeout=30).json()
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    job = wait_for(finished, timeout, "the study's job", interval=0.5)
    if job["status"] != "completed":
        raise SystemExit(f"the study's job ended {job['status']}: {job['error_message']}")
    study = httpx.get(f"{base}/ai/training/optimize/{study_id}", headers=auth, timeout=30).json()
    return {"job": job, "study": study, "trials": _all_trials(base, auth, study_id)}


def _all_trials(base: str, auth: dict[str, str], study_id: str) -> list[dict[str, Any]]:
    """Every trial of the study, a page of 1000 (the API's largest) at a time."""
    trials: list[dict[str, Any]] = []
    while True:
        response = httpx.get(
            f"{base}/ai/training/optimize/{study_id}/trials",
            params={"limit": 1000, "offset": len(trials)},
            headers=auth,
            timeout=30,
        )
        response.raise_for_status()
        page = response.json()
        trials += page["trials"]
        if not page["trials"] or len(trials) >= page["total"]:
            return trials


def service_run(base: str, auth: dict[str, str], n_trials: int) -> dict[str, float]:
    body = {
        "tenant_id": "bench",
        "study_name": f"eia-{int(time.time())}",
        "model_type": "forecast",
        "feature_set": "eia930",
        "config": {"target_variable": "cleaned_demand_mw", "horizon": HORIZON},
        "search_space": SPACE,
        "optimization_strategy": "tpe",
        "n_trials": n_trials,
        "parallel_jobs": 2,
        "seed": SEED,
    }
    run = run_study(base, auth, body, timeout=3600)
    job, study, trials = run["job"], run["study"], run["trials"]
    started = _parse_time(job["started_at"])
    finished = [
        ((_parse_time(t["datetime_complete"]) - started).total_seconds(), t["value"])
        for t in trials
        if t["state"] == "COMPLETE"
    ]
    return {
        "seconds": (_parse_time(job["completed_at"]) - _parse_time(job["created_at"])).total_seconds(),
        "best_val_mae": study["best_trial"]["value"],
        "test_mae": job["metrics"]["mae"],
        "within_1pct_s": within_one_percent(finished),
        "trials": float(sum(t["state"] in ("COMPLETE", "PRUNED") for t in trials)),
        "pruned": float(study.get("n_trials_pruned", 0)),
    }


def overhead_run(base: str, auth: dict[str, str], n_trials: int) -> dict[str, float]:
    """A study of instant trials: the tuning's wall time per trial, every second of it counted as overhead.

    The time runs from the job's first ``tune`` log line (the study starts) to its "Study ended" line, so it
    includes preparing the tiny data, starting the trial actors, Optuna's storage, the trials mirror, the job's
    progress and logs and the MLflow queue; the trials' own compute (1-3 boosting rounds on ~500 rows, a few ms)
    is counted as overhead too, which makes the figure an upper bound.
    """
    body = {
        "tenant_id": "bench",
        "study_name": f"instant-{int(time.time())}",
        "model_type": "forecast",
        "feature_set": "tiny",
        "config": {"horizon": 1},
        "search_space": {
            "n_estimators": {"type": "int", "low": 1, "high": 3},
            "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
            "num_leaves": 4,
        },
        "optimization_strategy": "random",
        "n_trials": n_trials,
        "parallel_jobs": 2,
        "seed": SEED,
    }
    run = run_study(base, auth, body, timeout=1800)
    job = run["job"]
    logs = httpx.get(f"{base}/ai/training/jobs/{job['job_id']}/logs", headers=auth, timeout=60).json()["logs"]
    logs = [line for line in logs if line["step"] == "tune"]
    start = _parse_time(logs[0]["timestamp"])
    end = _parse_time(next(line for line in logs if line["message"].startswith("Study ended"))["timestamp"])
    wall = (end - start).total_seconds()
    return {"seconds": wall, "trials": float(len(run["trials"])), "overhead_ms": 1000 * wall / n_trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--regions", type=int, default=23)
    parser.add_argument("--instant-trials", type=int, default=500)
    parser.add_argument(
        "--overhead-only",
        action="store_true",
        help="only the instant-trial study (seconds, not the EIA comparison's half hour); other fields are null",
    )
    args = parser.parse_args()

    service = plain = None
    with tempfile.TemporaryDirectory(prefix="trainforge-bench-") as tmp:
        home, store = bench_home(tmp)
        if not args.overhead_only:
            raw = eia_regions(args.regions)
            console.print(f"EIA-930: {len(raw):,} rows, {raw['region'].nunique()} regions; {args.trials} trials each")
            store.write_frame("bench", "eia930", raw, timestamp_col="timestamp_utc", series_col="region")
            del raw
        tiny = generate_demo_load(n_series=1, periods=24 * 21)
        store.write_frame("bench", "tiny", tiny, timestamp_col="timestamp", series_col="site_id")
        env = {"TRAINFORGE_RAY_NUM_CPUS": "2", "TRAINFORGE_TRAIN_THREADS": str(THREADS)}
        with trainforge_server(home, env=env) as base:
            auth = local_auth(home)
            if not args.overhead_only:
                service = service_run(base, auth, args.trials)
                console.print(f"service: {service['seconds']:.1f} s, test MAE {service['test_mae']:.2f}")
            instant = overhead_run(base, auth, args.instant_trials)
            console.print(f"instant trials: {instant['seconds']:.1f} s, {instant['overhead_ms']:.1f} ms/trial")
        if not args.overhead_only:
            plain = plain_run(args.regions, args.trials)
            console.print(f"plain: {plain['seconds']:.1f} s, test MAE {plain['test_mae']:.2f}")

    if service is not None and plain is not None:
        rows = [
            [
                name,
                r["seconds"],
                r["best_val_mae"],
                r["test_mae"],
                r["within_1pct_s"],
                int(r["trials"]),
                int(r["pruned"]),
            ]
            for name, r in (("plain Optuna loop", plain), ("trainforge study", service))
        ]
        print_table(
            f"{args.trials}-trial TPE study, EIA-930 {args.regions} regions, horizon {HORIZON}, {THREADS} threads",
            ["run", "wall s", "best val MAE", "test MAE", "within 1% at s", "finished", "pruned"],
            rows,
        )
    print_table(
        f"Service overhead over {args.instant_trials} instant trials",
        ["run", "wall s", "trials", "overhead ms/trial"],
        [["instant study", instant["seconds"], int(instant["trials"]), instant["overhead_ms"]]],
    )
    print(
        json.dumps(
            {
                "service_s": _rounded(service, "seconds", 2),
                "plain_s": _rounded(plain, "seconds", 2),
                "ratio": round(service["seconds"] / plain["seconds"], 3) if service and plain else None,
                "service_test_mae": _rounded(service, "test_mae", 3),
                "plain_test_mae": _rounded(plain, "test_mae", 3),
                "overhead_ms_per_trial": round(instant["overhead_ms"], 1),
            }
        )
    )


def _rounded(run: dict[str, float] | None, key: str, digits: int) -> float | None:
    return None if run is None else round(run[key], digits)


if __name__ == "__main__":
    main()
