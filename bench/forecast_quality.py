"""Forecast quality: trainforge's multi-step forecasts against mlforecast, statsforecast's MSTL and seasonal naive.

Part A, EIA-930 (23 sub-regions, hourly, 2020-2024; test = 2024-07-01..2024-12-31, horizon 24), in one run:

- trainforge: ``run_forecast_pipeline`` on a Parquet feature store holding the data, with ``start_date``/``end_date``
  the whole window and a ``test_split`` that makes the test split start at 2024-07-01. Its
  ``PipelineResult.test_predictions`` (one row per series, origin and step) are the rows every side is scored on.
- seasonal naive: the ``baseline`` column of that same table (trainforge's own, the better of daily and weekly
  chosen on validation); the daily and weekly ones are recomputed here as a check.
- mlforecast: a plain ``MLForecast`` LightGBM with lags 1, 2, 3, 24, 48, 168, the calendar features hour,
  day-of-week and month, and the series id as a static categorical (trainforge has it too; without it the plain
  model is worse than yesterday's value), in recursive mode (one model, fed its own forecasts for leads 2..24): one
  fit per trial is what makes tuning affordable on 2 cores, where the direct mode (``max_horizon=24``) fits 24
  models per trial.
  Tuned with Optuna (TPE, ``--trials``): each trial trains on the two years before a validation year
  (2021-07-01..2023-06-30, validation 2023-07-01..2024-06-30), its rounds (at most 500) set by early stopping on
  the one-step validation MAE, and is scored by the 24-step recursive MAE from validation origins every 11 hours.
  The best parameters are refitted by ``MLForecast.fit`` on everything before the test (2020-01..2024-06). Its
  forecasts from every scored origin come from a vectorised replay of mlforecast's recursion, checked against
  ``MLForecast.predict`` on three origins.
- MSTL: statsforecast ``MSTL(season_length=[24, 168])`` fitted on the 8 weeks before each origin; refitted at every
  origin of a subsample (one every ``--mstl-every`` hours, 121 by default: about every 5 days, the hour of day
  moving by one each time; ~850 fits), so it is scored on that subset, and every other side is scored on that
  subset too.

Part B, Tetouan (3 zones, 10-minute power resampled to 30 minutes, with weather): 12 weeks of history, 14 rolling
origins of 48 steps (the last 14 days). For each origin, one trainforge job trained on everything before it
(``end_date`` = just after the origin, ``refit_on_all: true``; and the same job with ``refit_on_all: false``) whose
model then forecasts 48 steps from the origin, as the predict API would; against seasonal naive (daily and weekly),
MSTL(season_length=[48, 336]) and AutoTheta (season 48), each fitted on the same history. (AutoETS with season
48 costs twice MSTL's time and is left out.)

mlforecast and statsforecast are bench-only dependencies: ``make bench-deps`` (the ``bench`` extra).

Usage: .venv/bin/python bench/forecast_quality.py [--trials 20] [--part both|eia|tetouan] [--mstl-every 121]
       [--skip-trainforge] [--tetouan-start 2017-01-02]
The last line printed is one JSON object with the headline figures (see ``main``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import multiprocessing
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Run as `python bench/x.py` (not `-m bench.x`), sys.path starts at bench/, not at the repository: `bench` would not
# be importable. (bench/ stays on the path, so no bench module may take a standard module's name: not `queue`.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import EIA_FILE, SHARED_DATA, console, print_table

THREADS = 2
TABLE_WIDTH = 170
SEED = 0
HOUR = pd.Timedelta(hours=1)

# Part A
EIA_HORIZON = 24
EIA_START = pd.Timestamp("2020-01-01", tz="UTC")
EIA_END = pd.Timestamp("2025-01-01", tz="UTC")  # exclusive
EIA_TEST_START = pd.Timestamp("2024-07-01", tz="UTC")
EIA_VAL_START = pd.Timestamp("2023-07-01", tz="UTC")  # mlforecast's tuning: train before, validate until the test
EIA_TUNE_START = pd.Timestamp("2021-07-01", tz="UTC")  # ... on the two years before it (the final fit: all years)
LAGS = [1, 2, 3, 24, 48, 168]
DATE_FEATURES = ["hour", "dayofweek", "month"]
# mlforecast's model inputs, in its order: the series id (a static categorical, as trainforge has it), lags, calendar.
MLF_FEATURES = ["series", *(f"lag{lag}" for lag in LAGS), *DATE_FEATURES]
MSTL_WINDOW = 8 * 7 * 24  # 8 weeks of hours
VAL_ORIGIN_EVERY = 11  # hours between the validation origins of mlforecast's tuning objective (coprime with 24)
GOAL_RATIO = 0.9
MAX_ROUNDS = 500  # per tuning trial, with early stopping: keeps a trial under ~30 s on 2 cores
GOAL_COVERAGE = (78.0, 82.0)

# Part B
TETOUAN_FILE = SHARED_DATA / "load/tetouan/tetouan_10min_power_weather.parquet"
TETOUAN_STEP = pd.Timedelta(minutes=30)
TETOUAN_HORIZON = 48
TETOUAN_WEEKS = 12
TETOUAN_ORIGINS = 14
TETOUAN_WEATHER = ["temperature_c", "humidity_pct", "wind_speed", "general_diffuse_flows", "diffuse_flows"]


def require_competitors() -> None:
    """Fail at once, and say how to fix it, when the bench-only packages are missing."""
    missing = []
    for name in ("mlforecast", "statsforecast"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SystemExit(
            f"bench/forecast_quality.py needs {' and '.join(missing)} (bench-only dependencies): run "
            "`make bench-deps` (installs the project's `bench` extra into .venv)"
        )


# ---- shared helpers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """Series on one gap-free regular grid: ``values[s, i]`` is series ``series[s]`` at ``times[i]``."""

    series: list[str]
    times: pd.DatetimeIndex  # tz-aware UTC
    values: np.ndarray
    step: pd.Timedelta

    @classmethod
    def from_long(cls, frame: pd.DataFrame, column: str, step: pd.Timedelta) -> Panel:
        wide = frame.pivot(index="timestamp", columns="series_id", values=column).sort_index()
        times = pd.DatetimeIndex(wide.index)
        expected = pd.date_range(times[0], times[-1], freq=step)
        if len(times) != len(expected) or wide.isna().any().any():
            raise SystemExit(f"{column}: the panel has gaps; this bench expects a gap-free grid")
        return cls(list(wide.columns), times, wide.to_numpy(dtype=float).T, step)

    def series_index(self, ids: pd.Series) -> np.ndarray:
        position = pd.Index(self.series).get_indexer(ids.astype(str))
        if (position < 0).any():
            raise SystemExit(f"unknown series in the scored rows: {sorted(set(ids[position < 0]))[:5]}")
        return position

    def time_index(self, stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
        offsets = (pd.DatetimeIndex(stamps) - self.times[0]) / self.step
        position = np.asarray(offsets, dtype=float)
        if not np.allclose(position, np.round(position)):
            raise SystemExit("timestamps off the panel's grid")
        return np.round(position).astype(np.int64)


def seasonal_naive_values(values: np.ndarray, s: np.ndarray, o: np.ndarray, step: np.ndarray, season: int):
    """``y[o + k - season * ceil(k / season)]``: the latest same-phase value at the origin, for lead ``k``."""
    back = season * np.ceil(step / season).astype(np.int64)
    return values[s, o + step - back]


def show(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table on stdout, wide enough for the per-step columns even when stdout is a file."""
    print_table(title, columns, rows, width=TABLE_WIDTH)


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float))))


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    return float(100.0 * np.mean((actual >= low) & (actual <= high)))


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def pipeline_result(events) -> Any:
    """Drive a pipeline generator to its end; print its log lines; return the ``PipelineResult``."""
    from trainforge.pipeline.result import PipelineResult

    result = None
    for event in events:
        if isinstance(event, PipelineResult):
            result = event
        elif event.level != "INFO" or event.progress is not None:
            console.print(f"  [{event.step}] {event.message}", markup=False)
    if result is None:
        raise SystemExit("the pipeline ended without a result")
    return result


# ---- Part A: EIA-930 --------------------------------------------------------------------------------------------


def load_eia(n_regions: int) -> pd.DataFrame:
    """Columns ``timestamp`` (UTC), ``series_id``, ``demand_mw`` and ``okay`` (the raw value passed screening)."""
    if not EIA_FILE.exists():
        raise SystemExit(f"the EIA-930 data is not at {EIA_FILE}; set TRAINFORGE_BENCH_EIA")
    frame = pd.read_parquet(EIA_FILE, columns=["timestamp_utc", "region", "cleaned_demand_mw", "category"])
    frame["region"] = frame["region"].astype(str)
    regions = sorted(frame["region"].unique())[:n_regions]
    frame = frame[frame["region"].isin(regions)]
    return pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(frame["timestamp_utc"]).tz_localize("UTC").as_unit("us"),
            "series_id": frame["region"].to_numpy(),
            "demand_mw": frame["cleaned_demand_mw"].to_numpy(dtype="float64"),
            "okay": (frame["category"].astype(str) == "OKAY").to_numpy(),
        }
    ).reset_index(drop=True)


def eia_test_split(frame: pd.DataFrame) -> float:
    """The ``test_split`` whose test part starts at :data:`EIA_TEST_START`.

    The pipeline keeps the last ``round(n * test_split)`` of the ``n`` distinct usable target times (those past the
    features' warm-up) as its test; ``n`` is read from the pipeline's own preparation step where it has one, and the
    fraction is aimed at the middle of the rounding interval. The run checks where the test really started.
    """
    n_test = int((EIA_END - EIA_TEST_START) / HOUR)
    n = int((EIA_END - EIA_START) / HOUR)
    try:
        from trainforge.pipeline.config import TrainingConfig
        from trainforge.pipeline.prepare import prepare_forecast
    except ImportError:  # before the multi-step core: no warm-up known here, the check will tell
        return (n_test + 0.25) / n
    config = TrainingConfig(target_variable="demand_mw", horizon=EIA_HORIZON)
    design = prepare_forecast(frame[["timestamp", "series_id", "demand_mw"]], "demand_mw", config, freq="h")
    n = len(pd.DatetimeIndex(design.panel.times[design.usable]).unique())
    return (n_test + 0.25) / n


def run_trainforge_eia(frame: pd.DataFrame, root: Path, test_split: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    from trainforge.features.store import ParquetFeatureStore
    from trainforge.pipeline.config import TrainingConfig
    from trainforge.pipeline.forecast import run_forecast_pipeline

    store = ParquetFeatureStore(root)
    store.write_frame(
        "bench",
        "eia930",
        frame[["timestamp", "series_id", "demand_mw"]],
        timestamp_col="timestamp",
        series_col="series_id",
    )
    config = TrainingConfig(
        target_variable="demand_mw",
        horizon=EIA_HORIZON,
        start_date=EIA_START.to_pydatetime(),
        end_date=EIA_END.to_pydatetime(),
        test_split=test_split,
    )
    clock = time.perf_counter()
    result = pipeline_result(
        run_forecast_pipeline(
            tenant_id="bench", feature_set="eia930", config=config, feature_store_root=str(root), num_threads=THREADS
        )
    )
    seconds = time.perf_counter() - clock
    table = result.test_predictions
    if table is None or table.empty:
        raise SystemExit("trainforge returned no test predictions")
    return table, {"seconds": seconds, "metrics": result.metrics, "hyperparams": result.hyperparams}


def synthetic_rows(panel: Panel, horizon: int) -> pd.DataFrame:
    """Without trainforge (``--skip-trainforge``): every origin whose 24 leads fall in the test, every lead."""
    first = panel.time_index([EIA_TEST_START])[0] - 1
    origins = np.arange(first, len(panel.times) - horizon)
    s, o = np.meshgrid(np.arange(len(panel.series)), origins, indexing="ij")
    s, o = np.repeat(s.ravel(), horizon), np.repeat(o.ravel(), horizon)
    step = np.tile(np.arange(1, horizon + 1), len(s) // horizon)
    return pd.DataFrame(
        {
            "series_id": np.asarray(panel.series)[s],
            "origin": panel.times[o],
            "timestamp": panel.times[o + step],
            "step": step,
            "actual": panel.values[s, o + step],
        }
    )


def recursive_forecast(
    predict, values: np.ndarray, times: pd.DatetimeIndex, s: np.ndarray, o: np.ndarray, horizon: int
) -> np.ndarray:
    """mlforecast's recursive forecast from many origins at once: ``(len(s), horizon)`` forecasts.

    Lead ``k`` from origin ``o`` sees ``lag L`` = the actual value at ``o + k - L`` where that is at or before the
    origin, else the forecast for it; the calendar features are those of the forecast time ``o + k`` (as mlforecast
    computes them for each new timestamp); ``series`` is the series' code (its position in the sorted ids, as
    LightGBM codes a pandas categorical). ``predict`` takes the matrix of :data:`MLF_FEATURES`.
    """
    forecasts = np.empty((len(s), horizon))
    hours = times.hour.to_numpy()
    weekdays = times.day_of_week.to_numpy()
    months = times.month.to_numpy()
    last = len(times) - 1
    for k in range(1, horizon + 1):
        at = np.minimum(o + k, last)  # leads past the data (the test's last origins) are never scored
        columns = [s] + [values[s, o + k - lag] if lag >= k else forecasts[:, k - lag - 1] for lag in LAGS]
        columns += [hours[at], weekdays[at], months[at]]
        forecasts[:, k - 1] = predict(np.column_stack(columns).astype(float))
    return forecasts


def mlforecast_frame(frame: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """The data in mlforecast's layout (naive UTC ``ds``), before ``end``, with the static feature ``series``."""
    part = frame[frame["timestamp"] < end]
    return pd.DataFrame(
        {
            "unique_id": part["series_id"].to_numpy(),
            "ds": pd.DatetimeIndex(part["timestamp"]).tz_convert("UTC").tz_localize(None),
            "y": part["demand_mw"].to_numpy(),
            "series": pd.Categorical(part["series_id"], categories=sorted(frame["series_id"].unique())),
        }
    )


def new_mlforecast(params: dict[str, Any] | None):
    import lightgbm as lgb
    from mlforecast import MLForecast

    model = lgb.LGBMRegressor(**(params or {}), n_jobs=THREADS, verbosity=-1, random_state=SEED)
    return MLForecast(models={"lgbm": model}, freq="h", lags=LAGS, date_features=DATE_FEATURES)


def tune_mlforecast(frame: pd.DataFrame, panel: Panel, trials: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Optuna on the validation year: the best LightGBM parameters (``n_estimators`` included) and the trials."""
    import lightgbm as lgb
    import optuna

    features = new_mlforecast(None).preprocess(mlforecast_frame(frame, EIA_TEST_START), static_features=["series"])
    columns = MLF_FEATURES
    ds = pd.DatetimeIndex(features["ds"]).tz_localize("UTC")
    train, val = features[(ds >= EIA_TUNE_START) & (ds < EIA_VAL_START)], features[ds >= EIA_VAL_START]
    train_set = lgb.Dataset(train[columns], train["y"], free_raw_data=False, params={"feature_pre_filter": False})
    val_set = lgb.Dataset(val[columns], val["y"], reference=train_set, params={"feature_pre_filter": False})
    first = panel.time_index([EIA_VAL_START])[0] - 1
    last = panel.time_index([EIA_TEST_START])[0] - 1 - EIA_HORIZON
    origins = np.arange(first, last + 1, VAL_ORIGIN_EVERY)
    s, o = (a.ravel() for a in np.meshgrid(np.arange(len(panel.series)), origins, indexing="ij"))
    actual = panel.values[s[:, None], o[:, None] + np.arange(1, EIA_HORIZON + 1)]
    console.print(
        f"mlforecast tuning: {len(train):,} train rows before {EIA_VAL_START.date()}, {len(val):,} validation rows, "
        f"objective: 24-step recursive MAE from {len(origins)} origins x {len(panel.series)} series"
    )
    records: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = {
            "objective": trial.suggest_categorical("objective", ["regression", "regression_l1"]),
            "learning_rate": trial.suggest_float("learning_rate", 0.05, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 15, 127, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
        clock = time.perf_counter()
        booster = lgb.train(
            {
                **_native(params),
                "metric": "l1",
                "num_threads": THREADS,
                "verbosity": -1,
                "seed": SEED,
                "bagging_freq": 1,
            },
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[val_set],
            callbacks=[lgb.early_stopping(30, verbose=False)],
        )
        rounds = booster.best_iteration or booster.current_iteration()
        fit_s = time.perf_counter() - clock
        forecasts = recursive_forecast(
            lambda x: booster.predict(x, num_iteration=rounds), panel.values, panel.times, s, o, EIA_HORIZON
        )
        score = mae(actual, forecasts)
        records.append({**params, "n_estimators": rounds, "val_mae": score, "seconds": time.perf_counter() - clock})
        console.print(
            f"  trial {trial.number}: recursive val MAE {score:.2f} ({rounds} rounds, fit {fit_s:.0f} s, "
            f"total {records[-1]['seconds']:.0f} s)"
        )
        trial.set_user_attr("n_estimators", rounds)
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=SEED))
    study.optimize(objective, n_trials=trials)
    best = {**study.best_params, "n_estimators": study.best_trial.user_attrs["n_estimators"], "subsample_freq": 1}
    return best, records


def _native(params: dict[str, Any]) -> dict[str, Any]:
    """The scikit-learn names of LightGBM's parameters as ``lgb.train`` takes them."""
    names = {"colsample_bytree": "feature_fraction", "subsample": "bagging_fraction", "reg_lambda": "lambda_l2"}
    return {names.get(k, k): v for k, v in params.items()}


def mlforecast_side(frame, panel, s, o, trials) -> tuple[np.ndarray, dict[str, Any]]:
    """Tune, refit with ``MLForecast.fit`` on everything before the test, forecast from every (series, origin)."""
    clock = time.perf_counter()
    best, records = tune_mlforecast(frame, panel, trials)
    tuned_s = time.perf_counter() - clock
    mlf = new_mlforecast(best)
    mlf.fit(mlforecast_frame(frame, EIA_TEST_START), static_features=["series"])
    model = mlf.models_["lgbm"]
    order = list(mlf.ts.features_order_)
    if order != MLF_FEATURES:
        raise SystemExit(f"mlforecast's feature order is {order}, the replay assumes {MLF_FEATURES}")
    forecasts = recursive_forecast(model.booster_.predict, panel.values, panel.times, s, o, EIA_HORIZON)
    check_replay(mlf, frame, panel, s, o, forecasts)
    return forecasts, {"best": best, "trials": records, "seconds": time.perf_counter() - clock, "tune_s": tuned_s}


def check_replay(mlf, frame, panel, s, o, forecasts) -> None:
    """The vectorised recursion must give what ``MLForecast.predict`` gives, on a few origins."""
    full = np.unique(o[o + EIA_HORIZON < len(panel.times)])  # origins whose every lead is in the data
    picks = full[[0, len(full) // 2, -1]]
    for origin in picks:
        start = panel.times[max(0, origin - 400)]
        history = mlforecast_frame(frame, panel.times[origin] + HOUR)
        history = history[pd.DatetimeIndex(history["ds"]).tz_localize("UTC") >= start]
        official = mlf.predict(EIA_HORIZON, new_df=history)
        rows = np.flatnonzero(o == origin)
        mine = pd.DataFrame(
            {
                "unique_id": np.asarray(panel.series)[s[rows]].repeat(EIA_HORIZON),
                "ds": (
                    panel.times[o[rows]].repeat(EIA_HORIZON) + np.tile(np.arange(1, EIA_HORIZON + 1), len(rows)) * HOUR
                ).tz_localize(None),
                "mine": forecasts[rows].ravel(),
            }
        )
        joined = official.merge(mine, on=["unique_id", "ds"], how="inner")
        if len(joined) != len(mine) or not np.allclose(joined["lgbm"], joined["mine"], rtol=1e-6, atol=1e-3):
            raise SystemExit(f"the recursion replay disagrees with MLForecast.predict at origin {panel.times[origin]}")
    console.print(f"mlforecast: the vectorised recursion matches MLForecast.predict at {len(picks)} origins")


def _mstl_task(windows: np.ndarray, seasons: list[int], horizon: int) -> np.ndarray:
    """MSTL forecasts (mean, lo-80, hi-80, lo-95, hi-95) for each row of ``windows``: ``(rows, 5, horizon)``."""
    from statsforecast.models import MSTL

    out = np.empty((len(windows), 5, horizon))
    for i, y in enumerate(windows):
        fc = MSTL(season_length=seasons).forecast(y=y, h=horizon, level=[80, 95])
        out[i] = [fc["mean"], fc["lo-80"], fc["hi-80"], fc["lo-95"], fc["hi-95"]]
    return out


def mstl_forecasts(windows: list[np.ndarray], seasons: list[int], horizon: int, chunk: int = 23) -> np.ndarray:
    """:func:`_mstl_task` over many windows, on ``THREADS`` processes (spawned: the parent has used OpenMP)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(THREADS, mp_context=context) as pool:
        futures = [
            pool.submit(_mstl_task, np.asarray(windows[i : i + chunk]), seasons, horizon)
            for i in range(0, len(windows), chunk)
        ]
        return np.concatenate([f.result() for f in futures])


def mstl_pairs(ps: np.ndarray, po: np.ndarray, every: int) -> np.ndarray:
    """A mask of the (series, origin) pairs MSTL is fitted at: per series, about one origin every ``every`` steps
    among its scored origins (which the pipeline may stride, and stagger between series)."""
    keep = np.zeros(len(ps), dtype=bool)
    for series in np.unique(ps):
        at = np.flatnonzero(ps == series)
        origins = po[at]
        order = np.argsort(origins)
        sorted_origins = origins[order]
        targets = np.arange(sorted_origins[0], sorted_origins[-1] + 1, every)
        picked = np.minimum(np.searchsorted(sorted_origins, targets), len(sorted_origins) - 1)
        keep[at[order[np.unique(picked)]]] = True
    return keep


def part_eia(args) -> dict[str, Any]:
    frame = load_eia(args.regions)
    panel = Panel.from_long(frame, "demand_mw", HOUR)
    okay = Panel.from_long(frame.assign(okay=frame["okay"].astype(float)), "okay", HOUR).values > 0.5
    console.print(f"EIA-930: {len(frame):,} rows, {len(panel.series)} regions, {panel.times[0]} .. {panel.times[-1]}")

    info: dict[str, Any] = {}
    if args.skip_trainforge:
        rows = synthetic_rows(panel, EIA_HORIZON)
    else:
        split = eia_test_split(frame)
        with tempfile.TemporaryDirectory(prefix="trainforge-bench-") as tmp:
            rows, info = run_trainforge_eia(frame, Path(tmp) / "store", split)
        console.print(f"trainforge: {len(rows):,} test rows in {info['seconds']:.0f} s")
    rows = rows.sort_values(["series_id", "origin", "step"], kind="stable").reset_index(drop=True)
    s = panel.series_index(rows["series_id"])
    o = panel.time_index(rows["origin"])
    step = rows["step"].to_numpy(dtype=np.int64)
    checks = check_rows(rows, panel, s, o, step)

    # Seasonal naive, daily and weekly, recomputed: trainforge's baseline column must be one of them.
    naive = {season: seasonal_naive_values(panel.values, s, o, step, season) for season in (24, 168)}
    if "baseline" in rows:
        rows["baseline"] = rows["baseline"].astype(float)
        matches = [season for season, values in naive.items() if np.allclose(rows["baseline"], values)]
        checks["baseline_is"] = f"seasonal naive {matches[0]} h" if matches else "neither daily nor weekly naive!"
    else:
        rows["baseline"] = naive[24]
        checks["baseline_is"] = "recomputed daily naive (no trainforge)"
    rows["naive_24"], rows["naive_168"] = naive[24], naive[168]

    # mlforecast, from every (series, origin) pair of the table.
    pairs = rows.loc[rows["step"] == 1, ["series_id", "origin"]]
    ps, po = panel.series_index(pairs["series_id"]), panel.time_index(pairs["origin"])
    clock = time.perf_counter()
    forecasts, mlf_info = mlforecast_side(frame, panel, ps, po, args.trials)
    position = pd.Series(np.arange(len(ps)), index=pd.MultiIndex.from_arrays([ps, po]))
    rows["mlforecast"] = forecasts[position.loc[list(zip(s, o, strict=True))].to_numpy(), step - 1]
    console.print(f"mlforecast: {time.perf_counter() - clock:.0f} s (tuning {mlf_info['tune_s']:.0f} s)")

    # MSTL on a subsample of origins.
    clock = time.perf_counter()
    subset = mstl_pairs(ps, po, args.mstl_every)
    ms, mo = ps[subset], po[subset]
    chosen = len(np.unique(mo))
    windows = [panel.values[a, b - MSTL_WINDOW + 1 : b + 1] for a, b in zip(ms, mo, strict=True)]
    mstl = mstl_forecasts(windows, [24, 168], EIA_HORIZON)
    mstl_s = time.perf_counter() - clock
    console.print(f"MSTL: {len(windows):,} fits ({chosen} origin times) in {mstl_s:.0f} s")
    index = pd.Series(np.arange(len(ms)), index=pd.MultiIndex.from_arrays([ms, mo]))
    in_subset = index.index.get_indexer(pd.MultiIndex.from_arrays([s, o])) >= 0
    where = index.loc[list(zip(s[in_subset], o[in_subset], strict=True))].to_numpy()
    for j, name in enumerate(["mstl", "mstl_lo_80", "mstl_hi_80", "mstl_lo_95", "mstl_hi_95"]):
        rows[name] = np.nan
        rows.loc[in_subset, name] = mstl[where, j, step[in_subset] - 1]
    rows["okay"] = okay[s, o + step]

    return report_eia(rows, info, mlf_info, checks, mstl_s, chosen)


def check_rows(rows: pd.DataFrame, panel: Panel, s, o, step) -> dict[str, Any]:
    """What the scored table should satisfy by the contract; problems are reported, not fatal."""
    problems = []
    forecast_time = panel.time_index(rows["timestamp"])
    if not np.array_equal(forecast_time, o + step):
        problems.append(f"{int(np.sum(forecast_time != o + step))} rows with timestamp != origin + step")
    if not np.allclose(rows["actual"].to_numpy(dtype=float), panel.values[s, forecast_time]):
        problems.append("actual differs from the data")
    leads = rows.groupby(["series_id", "origin"])["step"].nunique()
    short = leads[leads != EIA_HORIZON]
    partial = ""
    if len(short):
        latest = short.index.get_level_values("origin")
        partial = (
            f"{len(short)} (series, origin) pairs with fewer than 24 leads, origins {latest.min()}..{latest.max()}"
        )
        if latest.min() + EIA_HORIZON * HOUR <= panel.times[-1]:
            problems.append(partial)  # short of leads inside the data: not only the test's end
    first_forecast = rows["timestamp"].min()
    if first_forecast != EIA_TEST_START and first_forecast != EIA_TEST_START + HOUR:
        problems.append(f"the first forecast time is {first_forecast}, not {EIA_TEST_START}")
    origins = np.unique(o)
    strides = np.unique(np.diff(origins))
    for problem in problems:
        console.print(f"[bold red]check:[/] {problem}")
    return {
        "problems": problems,
        "origins": len(origins),
        "origin_stride_h": strides.tolist()[:5],
        "first_origin": str(panel.times[origins[0]]),
        "last_origin": str(panel.times[origins[-1]]),
        "partial_leads": partial or "none",
        "first_forecast": str(first_forecast),
        "last_forecast": str(rows["timestamp"].max()),
    }


def report_eia(rows, info, mlf_info, checks, mstl_s, mstl_origin_count) -> dict[str, Any]:
    has_tf = "forecast" in rows
    has_pi = has_tf and {"lo_80", "hi_80", "lo_95", "hi_95"} <= set(rows.columns)
    actual = rows["actual"].to_numpy(dtype=float)
    sub = rows["mstl"].notna().to_numpy()

    per_step = []
    for k, part in rows.groupby("step"):
        a = part["actual"].to_numpy(dtype=float)
        m = part["mstl"].notna().to_numpy()
        tf = mae(a, part["forecast"]) if has_tf else float("nan")
        ml = mae(a, part["mlforecast"])
        tf_sub = mae(a[m], part["forecast"][m]) if has_tf else float("nan")
        ms = mae(a[m], part["mstl"][m])
        per_step.append(
            [
                int(k),
                tf,
                mae(a, part["baseline"]),
                ml,
                ratio(tf, ml),
                coverage(a, part["lo_80"], part["hi_80"]) if has_pi else float("nan"),
                coverage(a, part["lo_95"], part["hi_95"]) if has_pi else float("nan"),
                tf_sub,
                mae(a[m], part["mlforecast"][m]),
                ms,
                ratio(tf_sub, ms),
            ]
        )
    show(
        f"EIA-930 test {checks['first_forecast'][:10]}..{checks['last_forecast'][:10]}: MAE (MW) by lead; "
        f"all {checks['origins']} origins, and the MSTL subset of {mstl_origin_count} origins",
        [
            "step",
            "trainforge",
            "seasonal naive",
            "mlforecast",
            "tf/mlf",
            "cov 80 %",
            "cov 95 %",
            "tf (subset)",
            "mlf (subset)",
            "MSTL (subset)",
            "tf/MSTL",
        ],
        per_step,
    )

    def overall(name: str, column: str, interval: list[str] | None = None) -> list[Any]:
        values = rows[column].to_numpy(dtype=float)
        ok = rows["okay"].to_numpy() & ~np.isnan(values)
        full = not np.isnan(values).any()
        row = [
            name,
            mae(actual, values) if full else float("nan"),
            mae(actual[sub], values[sub]),
            mae(actual[ok], values[ok]),
        ]
        if interval:
            lo80, hi80, lo95, hi95 = (rows[c].to_numpy(dtype=float) for c in interval)
            mask = ~np.isnan(lo80)
            row += [coverage(actual[mask], lo80[mask], hi80[mask]), coverage(actual[mask], lo95[mask], hi95[mask])]
        else:
            row += [float("nan"), float("nan")]
        return row

    table = []
    if has_tf:
        table.append(overall("trainforge", "forecast", ["lo_80", "hi_80", "lo_95", "hi_95"] if has_pi else None))
    table += [
        overall("seasonal naive (trainforge's baseline)", "baseline"),
        overall("seasonal naive, daily", "naive_24"),
        overall("seasonal naive, weekly", "naive_168"),
        overall("mlforecast LightGBM (tuned, recursive)", "mlforecast"),
        overall("MSTL [24, 168], 8 weeks", "mstl", ["mstl_lo_80", "mstl_hi_80", "mstl_lo_95", "mstl_hi_95"]),
    ]
    show(
        f"EIA-930 test MAE (MW) over leads 1..24: {len(rows):,} rows ({checks['origins']} origins); MSTL subset "
        f"{int(sub.sum()):,} rows ({mstl_origin_count} origins)",
        ["side", "MAE all rows", "MAE MSTL subset", "MAE OKAY actuals", "cov 80 %", "cov 95 %"],
        table,
    )
    tf_all = mae(actual, rows["forecast"]) if has_tf else float("nan")
    mlf_all = mae(actual, rows["mlforecast"])
    tf_sub = mae(actual[sub], rows["forecast"][sub]) if has_tf else float("nan")
    mstl_sub = mae(actual[sub], rows["mstl"][sub])
    cov80 = coverage(actual, rows["lo_80"], rows["hi_80"]) if has_pi else float("nan")
    cov95 = coverage(actual, rows["lo_95"], rows["hi_95"]) if has_pi else float("nan")
    goals = [
        [
            "test MAE <= 0.9 x tuned mlforecast",
            f"{ratio(tf_all, mlf_all):.3f}",
            "yes" if ratio(tf_all, mlf_all) <= GOAL_RATIO else "NO",
        ],
        ["trainforge / MSTL (subset)", f"{ratio(tf_sub, mstl_sub):.3f}", "yes" if tf_sub < mstl_sub else "NO"],
        ["80% coverage in 78-82%", f"{cov80:.1f}", "yes" if GOAL_COVERAGE[0] <= cov80 <= GOAL_COVERAGE[1] else "NO"],
        ["95% coverage", f"{cov95:.1f}", "-"],
    ]
    show("EIA-930 goals", ["goal", "value", "met"], goals)
    best = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in mlf_info["best"].items()}
    console.print(f"mlforecast best parameters: {best}")
    console.print(f"table checks: {checks}")
    if info:
        metrics = info["metrics"]
        console.print(
            "trainforge's own metrics: "
            + ", ".join(
                f"{k}={metrics[k]:.4g}" if isinstance(metrics.get(k), float) else f"{k}={metrics.get(k)}"
                for k in ("mae", "baseline_mae", "baseline_season", "val_mae", "coverage_80", "coverage_95")
            )
            + f"; hyperparams {info['hyperparams']}"
        )
    return {
        "eia_trainforge_mae": _round(tf_all),
        "eia_mlforecast_mae": _round(mlf_all),
        "eia_baseline_mae": _round(mae(actual, rows["baseline"])),
        "eia_ratio_mlforecast": _round(ratio(tf_all, mlf_all), 4),
        "eia_mstl_subset_mae": _round(mstl_sub),
        "eia_trainforge_subset_mae": _round(tf_sub),
        "eia_ratio_mstl": _round(ratio(tf_sub, mstl_sub), 4),
        "eia_coverage_80": _round(cov80),
        "eia_coverage_95": _round(cov95),
        "eia_rows": len(rows),
        "eia_trainforge_s": _round(info.get("seconds", float("nan")), 1),
        "eia_mlforecast_s": _round(mlf_info["seconds"], 1),
        "eia_mstl_s": _round(mstl_s, 1),
    }


def _round(value: float, digits: int = 2) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


# ---- Part B: Tetouan --------------------------------------------------------------------------------------------


def load_tetouan(start: pd.Timestamp) -> pd.DataFrame:
    """12 weeks from ``start`` of the three zones at 30 minutes (means), long: timestamp, series_id, power, weather."""
    if not TETOUAN_FILE.exists():
        raise SystemExit(f"the Tetouan data is not at {TETOUAN_FILE}")
    raw = pd.read_parquet(TETOUAN_FILE).set_index("timestamp").resample(TETOUAN_STEP).mean()
    raw.index = pd.DatetimeIndex(raw.index).tz_localize("UTC").as_unit("us")  # naive local labels, kept as they are
    window = raw[(raw.index >= start) & (raw.index < start + pd.Timedelta(weeks=TETOUAN_WEEKS))]
    if len(window) != TETOUAN_WEEKS * 7 * 48:
        raise SystemExit(f"the Tetouan window from {start} has {len(window)} half-hours, not {TETOUAN_WEEKS} weeks")
    parts = [
        pd.DataFrame(
            {"timestamp": window.index, "series_id": f"zone{z}", "power": window[f"zone{z}_power"].to_numpy()}
            | {c: window[c].to_numpy() for c in TETOUAN_WEATHER}
        )
        for z in (1, 2, 3)
    ]
    return pd.concat(parts, ignore_index=True)


def _stats_task(history: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Forecasts of the statsforecast models from one history (the last value is the origin's)."""
    from statsforecast.models import MSTL, AutoTheta

    out: dict[str, np.ndarray] = {}
    models = {
        "MSTL [48, 336]": MSTL(season_length=[48, 336]),
        "AutoTheta (48)": AutoTheta(season_length=48),
    }
    for name, model in models.items():
        clock = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = model.forecast(y=history, h=horizon, level=[80])
        out[name] = np.asarray(fc["mean"])
        out[f"{name} lo"], out[f"{name} hi"] = np.asarray(fc["lo-80"]), np.asarray(fc["hi-80"])
        out[f"{name} s"] = np.array([time.perf_counter() - clock])
    return out


def trainforge_tetouan(frame: pd.DataFrame, root: Path, origin: pd.Timestamp, refit_on_all: bool):
    """One job trained on the rows up to ``origin``; its model's 48-step forecast from it (series, step, value, lo,
    hi), and the job's own metrics."""
    from trainforge.features.store import ParquetFeatureStore
    from trainforge.pipeline.config import TrainingConfig
    from trainforge.pipeline.forecast import run_forecast_pipeline

    ParquetFeatureStore(root).info("bench", "tetouan")  # stored once by the caller
    config = TrainingConfig(
        target_variable="power",
        horizon=TETOUAN_HORIZON,
        start_date=frame["timestamp"].min().to_pydatetime(),
        end_date=(origin + TETOUAN_STEP).to_pydatetime(),
        refit_on_all=refit_on_all,
        holidays={"country": "MA", "subdivision": None},
    )
    result = pipeline_result(
        run_forecast_pipeline(
            tenant_id="bench", feature_set="tetouan", config=config, feature_store_root=str(root), num_threads=THREADS
        )
    )
    history = frame[frame["timestamp"] <= origin]
    table = forecast_with(result.model, history, TETOUAN_HORIZON, [0.1, 0.9])
    return table, result.metrics


def forecast_with(model, history: pd.DataFrame, horizon: int, quantiles: list[float]) -> pd.DataFrame:
    """The model's forecast table, by the contract's ``forecast(history, horizon, quantiles)``."""
    python_model = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
    return python_model.forecast(history, horizon, quantiles)


def part_tetouan(args) -> dict[str, Any]:
    start = pd.Timestamp(args.tetouan_start, tz="UTC")
    frame = load_tetouan(start)
    panel = Panel.from_long(frame, "power", TETOUAN_STEP)
    n = len(panel.times)
    count = args.tetouan_origins
    origins = [n - (count - i) * TETOUAN_HORIZON - 1 for i in range(count)]
    console.print(
        f"Tetouan: {len(panel.series)} zones, {n} half-hours from {panel.times[0]} ; origins "
        f"{panel.times[origins[0]]} .. {panel.times[origins[-1]]} (every {TETOUAN_HORIZON} steps)"
    )
    steps = np.arange(1, TETOUAN_HORIZON + 1)
    sides: dict[str, list[np.ndarray]] = {}
    intervals: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    seconds: dict[str, float] = {}
    actual_all: list[np.ndarray] = []
    notes: list[list[Any]] = []

    def add(name: str, values, lo=None, hi=None) -> None:
        sides.setdefault(name, []).append(np.asarray(values, dtype=float))
        if lo is not None:
            intervals.setdefault(name, []).append((np.asarray(lo, float), np.asarray(hi, float)))

    # statsforecast: one task per (origin, zone), on THREADS processes.
    tasks = [(i, z) for i in range(len(origins)) for z in range(len(panel.series))]
    clock = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(THREADS, mp_context=context) as pool:
        stats = list(
            pool.map(
                _stats_task,
                [panel.values[z, : origins[i] + 1] for i, z in tasks],
                [TETOUAN_HORIZON] * len(tasks),
            )
        )
    seconds["statsforecast"] = time.perf_counter() - clock
    stat_names = ["MSTL [48, 336]", "AutoTheta (48)"]
    for name in stat_names:
        seconds[name] = float(sum(result[f"{name} s"][0] for result in stats))

    tf_variants = [] if args.skip_trainforge else [("trainforge", True), ("trainforge (refit_on_all false)", False)]
    tmp = tempfile.TemporaryDirectory(prefix="trainforge-bench-")
    root = Path(tmp.name) / "store"
    if tf_variants:
        from trainforge.features.store import ParquetFeatureStore

        ParquetFeatureStore(root).write_frame(
            "bench", "tetouan", frame, timestamp_col="timestamp", series_col="series_id"
        )
    try:
        for i, o in enumerate(origins):
            truth = panel.values[:, o + steps]  # (zones, 48)
            actual_all.append(truth.ravel())
            add("seasonal naive, daily", panel.values[:, o + steps - 48].ravel())
            add("seasonal naive, weekly", panel.values[:, o + steps - 336].ravel())
            for name in stat_names:
                picked = [stats[tasks.index((i, z))] for z in range(len(panel.series))]
                add(
                    name,
                    np.concatenate([p[name] for p in picked]),
                    np.concatenate([p[f"{name} lo"] for p in picked]),
                    np.concatenate([p[f"{name} hi"] for p in picked]),
                )
            for name, refit in tf_variants:
                clock = time.perf_counter()
                table, metrics = trainforge_tetouan(frame, root, panel.times[o], refit)
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - clock
                table = table.assign(series_id=table["series_id"].astype(str)).set_index(["series_id", "step"])
                keys = pd.MultiIndex.from_product([panel.series, steps])
                expected_times = panel.times[o] + steps * TETOUAN_STEP
                got = table.loc[keys]
                if not (pd.DatetimeIndex(got["timestamp"]).tz_convert("UTC") == np.tile(expected_times, 3)).all():
                    console.print(f"[bold red]check:[/] {name} forecast times are off at origin {panel.times[o]}")
                add(name, got["value"], got["q0.1"], got["q0.9"])
                notes.append(
                    [
                        f"{panel.times[o]:%m-%d %H:%M}",
                        name,
                        metrics.get("baseline_season"),
                        metrics.get("val_mae"),
                        metrics.get("baseline_val_mae"),
                        metrics.get("mae"),
                        metrics.get("baseline_mae"),
                        mae(truth.ravel(), got["value"]),
                    ]
                )
            console.print(f"  origin {i + 1}/{len(origins)} {panel.times[o]} done")
    finally:
        tmp.cleanup()

    actual = np.concatenate(actual_all)
    per_origin_mae = {
        name: [mae(a, f) for a, f in zip(actual_all, values, strict=True)] for name, values in sides.items()
    }
    mstl_mae = mae(actual, np.concatenate(sides["MSTL [48, 336]"]))
    rows = []
    for name, values in sides.items():
        forecast = np.concatenate(values)
        cov = float("nan")
        if name in intervals:
            lo = np.concatenate([p[0] for p in intervals[name]])
            hi = np.concatenate([p[1] for p in intervals[name]])
            cov = coverage(actual, lo, hi)
        wins = sum(a < b for a, b in zip(per_origin_mae[name], per_origin_mae["MSTL [48, 336]"], strict=True))
        rows.append(
            [
                name,
                mae(actual, forecast),
                ratio(mae(actual, forecast), mstl_mae),
                f"{wins}/{len(origins)}",
                cov,
                seconds.get(name, float("nan")),
            ]
        )
    show(
        f"Tetouan, 3 zones, 30 min, {TETOUAN_WEEKS} weeks from {start:%Y-%m-%d}: MAE over {len(origins)} rolling "
        f"origins x 48 steps",
        ["side", "MAE", "/ MSTL", "origins better than MSTL", "cov 80 %", "fit s (sum)"],
        rows,
    )
    if notes:
        show(
            "Tetouan: each trainforge job's own report (its validation and test splits) and its MAE from the origin",
            [
                "origin",
                "job",
                "baseline season",
                "val MAE",
                "baseline val MAE",
                "test MAE",
                "baseline test MAE",
                "MAE from origin",
            ],
            notes,
        )
    result = {"tetouan_mstl_mae": _round(mstl_mae)}
    if tf_variants:
        tf = mae(actual, np.concatenate(sides["trainforge"]))
        result |= {
            "tetouan_trainforge_mae": _round(tf),
            "tetouan_ratio_mstl": _round(ratio(tf, mstl_mae), 4),
            "tetouan_weekly_naive_mae": _round(mae(actual, np.concatenate(sides["seasonal naive, weekly"]))),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["both", "eia", "tetouan"], default="both")
    parser.add_argument("--trials", type=int, default=20, help="Optuna trials of the plain mlforecast LightGBM")
    parser.add_argument("--regions", type=int, default=23)
    parser.add_argument("--mstl-every", type=int, default=121, help="hours between the EIA origins MSTL is fitted at")
    parser.add_argument("--tetouan-start", default="2017-01-02", help="first day of the 12 Tetouan weeks")
    parser.add_argument(
        "--tetouan-origins", type=int, default=TETOUAN_ORIGINS, help="rolling origins (the last ones, a day apart)"
    )
    parser.add_argument(
        "--skip-trainforge", action="store_true", help="only the competitors (rows: every origin of the test)"
    )
    args = parser.parse_args()
    require_competitors()
    clock = time.perf_counter()
    summary: dict[str, Any] = {}
    if args.part in ("both", "eia"):
        summary |= part_eia(args)
    if args.part in ("both", "tetouan"):
        summary |= part_tetouan(args)
    summary["seconds"] = round(time.perf_counter() - clock, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
