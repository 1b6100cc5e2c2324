"""Orchestration throughput: 1,000 small jobs through the real queue and workers on PostgreSQL, and GET latency.

The jobs are ``model_family: seasonal_naive`` with ``register_model: false`` on a short series (one series, 60
days hourly): nothing is fitted and nothing registered, so what is measured is the orchestration: the claim, the
Ray task, its streamed events, the job's log and progress writes and its completion. The deployment is the one
docs/orchestration.md recommends for many small jobs: ``trainforge serve --no-worker`` (the API) and one
``trainforge worker -c W`` process (W worker threads sharing a local Ray), the worker at ``nice 10`` so that batch
work yields the CPU to the API; a fresh PostgreSQL database.

Phases:
1. submission: ``--jobs`` POSTs over HTTP from 8 client threads, with no worker running (the queue fills);
2. drain: the worker starts (Ray, and one warmed process per thread, before its first claim) and empties the queue,
   while ``--pollers`` clients each GET the status of a random job every ``--poll-interval`` seconds (the CLI's
   ``jobs watch`` polls every 0.5 s);
3. rest: the same pollers for ``--rest-seconds`` once the queue is empty (the idle worker still polls it).

Throughput is ``jobs / (last completed_at - first started_at)`` from the jobs' own rows; queue wait is
``started_at - max(created_at, first started_at)``, i.e. the wait of a 1,000-job burst. CPU per job is the whole
machine's busy CPU time during the drain divided by the jobs, and by process group (API, worker, its Ray
processes, PostgreSQL, this benchmark); run it on a quiet machine.

Usage: .venv/bin/python -m bench.queue_throughput [--jobs 1000] [--workers 4] [--pollers 100] [--poll-interval 0.5]
The last line printed is one JSON object: jobs_per_s, wait_p50_s, wait_p99_s, get_p50_ms, get_p99_ms (the GET
figures while the queue drains), rest_get_p50_ms, rest_get_p99_ms and cpu_ms_per_job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import uvloop
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

# Run as `python bench/x.py` (not `-m bench.x`), sys.path starts at bench/, not at the repository: `bench` would not
# be importable. (bench/ stays on the path, so no bench module may take a standard module's name: not `queue`.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_home, console, print_table
from trainforge.db.engine import make_engine
from trainforge.db.tables import training_jobs
from trainforge.tenancy import KeyStore
from trainforge.testing import TRAINFORGE, trainforge_server, wait_for

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/trainforge_bench_queue"
TENANT, FEATURE_SET = "bench", "short_series"
SUBMIT_THREADS = 8
SLOW_POLL_SECONDS = 0.05  # the p99 target


def short_series(days: int = 60) -> pd.DataFrame:
    """One hourly series with a daily cycle and noise: enough rows for a split, small enough to cost nothing."""
    timestamps = pd.date_range("2024-01-01", periods=days * 24, freq="h", tz="UTC")
    hours = timestamps.hour.to_numpy()
    rng = np.random.default_rng(0)
    load = 100 + 30 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 3, len(timestamps))
    return pd.DataFrame({"timestamp": timestamps, "series_id": "meter-1", "load_kw": load})


def fresh_database(url: str) -> None:
    """Drop and create the benchmark's database, so every run starts from an empty queue."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


JOB = {
    "tenant_id": TENANT,
    "model_type": "forecast",
    "model_name": "queue_bench",
    "feature_set": FEATURE_SET,
    "config": {"model_family": "seasonal_naive", "register_model": False, "horizon": 24},
}


def submit(base: str, auth: dict[str, str], count: int) -> list[str]:
    """Submit ``count`` jobs over HTTP from SUBMIT_THREADS client threads; returns their ids."""

    def one_batch(n: int) -> list[str]:
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
            ids = []
            for _ in range(n):
                response = client.post("/ai/training/jobs/start", json=JOB)
                response.raise_for_status()
                ids.append(response.json()["job_id"])
            return ids

    shares = [count // SUBMIT_THREADS + (i < count % SUBMIT_THREADS) for i in range(SUBMIT_THREADS)]
    with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
        return [job_id for ids in pool.map(one_batch, shares) for job_id in ids]


class Pollers:
    """``n`` clients, each GETting a random job's status every ``interval`` seconds, in a process of their own.

    Each poller holds one keep-alive connection and speaks HTTP/1.1 over asyncio streams on uvloop. Written by hand
    because httpx's async client costs about a millisecond of CPU per request: at 200 requests a second on two
    cores, that load (and its event loop's delay) would be measured as the server's latency. A process of their
    own for the same reason: in the benchmark's process, its bookkeeping (the database checks, the CPU accounting)
    held the interpreter lock for tens of milliseconds at a time, and every poll waiting on it was counted as a slow
    response.
    """

    def __init__(self, base: str, auth: dict[str, str], n: int, interval: float, job_ids: list[str]) -> None:
        url = httpx.URL(base)
        self._args = (url.host, url.port, auth["Authorization"], n, interval, job_ids)
        self.errors = 0
        self._conn = None
        self._process = None

    def start(self) -> Pollers:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_run_pollers, args=(child, *self._args), daemon=True)
        self._process.start()
        if self._conn.recv() != "started":
            raise RuntimeError("the pollers did not start")
        return self

    @property
    def pid(self) -> int:
        return self._process.pid

    def take(self) -> list[tuple[float, float]]:
        """``(sent_at, latency)`` of the polls answered since the last take (Unix time, seconds)."""
        self._conn.send("take")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self.errors = self._conn.recv()
        self._process.join(timeout=30)


def _run_pollers(conn, host: str, port: int, token: str, n: int, interval: float, job_ids: list[str]) -> None:
    """The pollers' process: polls until told to stop; hands over its latencies when asked (see :class:`Pollers`)."""
    latencies: list[tuple[float, float]] = []
    errors = [0]
    stop = threading.Event()

    async def poll(index: int) -> None:
        await asyncio.sleep(interval * index / n)  # spread the pollers over the interval
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not stop.is_set():
                sent_at, started = time.time(), time.perf_counter()
                request = (
                    f"GET /ai/training/jobs/{random.choice(job_ids)} HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: {token}\r\n\r\n"
                )
                writer.write(request.encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 200"):
                    latencies.append((sent_at, time.perf_counter() - started))
                else:
                    errors[0] += 1
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
        finally:
            writer.close()

    def serve_requests() -> None:
        while True:
            command = conn.recv()
            if command == "take":
                taken = latencies[:]
                del latencies[: len(taken)]
                conn.send(taken)
            else:
                stop.set()
                return

    async def main() -> None:
        tasks = asyncio.gather(*(poll(i) for i in range(n)))
        conn.send("started")
        await asyncio.get_running_loop().run_in_executor(None, serve_requests)
        await tasks

    uvloop.run(main())
    conn.send(errors[0])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def unfinished(engine) -> int:
    """How many jobs have not ended (read from the database: asking the API would load the server measured)."""
    c = training_jobs.c
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(c.status.not_in(("completed", "failed", "cancelled")))
        ).scalar_one()


def job_times(engine, job_ids: list[str]) -> pd.DataFrame:
    """created/started/completed times and status of the given jobs, from the database."""
    c = training_jobs.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.job_id, c.status, c.created_at, c.started_at, c.completed_at)).all()
    frame = pd.DataFrame(rows, columns=["job_id", "status", "created_at", "started_at", "completed_at"])
    wanted = set(job_ids)
    return frame[frame["job_id"].astype(str).isin(wanted)].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="worker threads in the worker process (each job gets 2/W Ray CPUs); on 2 cores, 4 drained the queue "
        "faster than 8, whose 8 Ray processes and threads cost more CPU per job in contention",
    )
    parser.add_argument("--pollers", type=int, default=100)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--rest-seconds", type=float, default=20.0)
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="run the worker (and so its Ray processes) at this nice level: batch work yields the CPU to the API, "
        "as docs/orchestration.md recommends when both share a machine; 0 to compare",
    )
    parser.add_argument("--trace", type=Path, help="write each poll of the drain (sent_at, latency_s) to this CSV")
    parser.add_argument("--logs", type=Path, help="keep the server's and the worker's logs in this directory")
    parser.add_argument("--database-url", default=os.environ.get("TRAINFORGE_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()

    fresh_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="trainforge-bench-queue-") as tmp:
        home, store = bench_home(tmp)
        store.write_frame(TENANT, FEATURE_SET, short_series(), timestamp_col="timestamp", series_col="series_id")
        env = {
            **os.environ,
            "TRAINFORGE_HOME": str(home),
            "TRAINFORGE_DATABASE_URL": args.database_url,
            "TRAINFORGE_RAY_NUM_CPUS": "2",
            "TRAINFORGE_JOB_CPUS": str(round(2 / args.workers, 3)),
            "TRAINFORGE_WORKER_POLL_SECONDS": "0.2",
        }
        subprocess.run([TRAINFORGE, "db", "upgrade"], env=env, check=True, capture_output=True)
        keys = KeyStore(make_engine(args.database_url))
        auth = {"Authorization": f"Bearer {keys.create(TENANT, name='bench').token}"}
        keys.engine.dispose()
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        with (
            trainforge_server(home, env=env, args=("--no-worker",), log_path=logs / "serve.log") as base,
            (logs / "worker.log").open("w") as log,
        ):
            command = [TRAINFORGE, "worker", "-c", str(args.workers)]
            if args.worker_nice:
                command = ["nice", "-n", str(args.worker_nice), *command]
            workers: list[subprocess.Popen] = []

            def start_worker() -> int:
                workers.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
                return workers[0].pid

            try:
                result = run_phases(args, base, auth, start_worker)
            finally:
                for worker in workers:
                    worker.terminate()
                    worker.wait(timeout=120)
    report(args, *result)


def cpu_by_group(worker_pid: int, pollers_pid: int) -> dict[str, float]:
    """CPU seconds so far of the API server, the worker process, its Ray processes, PostgreSQL and this benchmark.

    Ray's processes are the worker's descendants (it starts Ray); a process that ended since the last call is
    missed, so the groups add up to less than the machine's total when Ray replaced worker processes.
    """
    groups = {"api": 0.0, "worker": 0.0, "ray": 0.0, "postgres": 0.0, "bench": 0.0}
    worker = psutil.Process(worker_pid)
    ray = {child.pid for child in worker.children(recursive=True)}
    me = os.getpid()
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            times = process.cpu_times()
            used = times.user + times.system
            cmdline = " ".join(process.info["cmdline"] or [])
        except psutil.Error:
            continue
        if process.pid == worker_pid:
            groups["worker"] += used
        elif process.pid in ray:
            groups["ray"] += used
            kind = "ray: " + ("tasks" if cmdline.startswith("ray::") else process.info["name"])
            groups[kind] = groups.get(kind, 0.0) + used
        elif process.pid in (me, pollers_pid):
            groups["bench"] += used
        elif process.info["name"] == "postgres" or cmdline.startswith("postgres"):
            groups["postgres"] += used
        elif "trainforge serve" in cmdline or (cmdline.endswith("--no-worker") and "serve" in cmdline):
            groups["api"] += used
    return groups


def run_phases(args, base: str, auth: dict[str, str], start_worker):
    console.print(f"submitting {args.jobs} jobs over HTTP ({SUBMIT_THREADS} clients), no worker running yet")
    clock = time.perf_counter()
    ids = submit(base, auth, args.jobs)
    submit_seconds = time.perf_counter() - clock
    pollers = Pollers(base, auth, args.pollers, args.poll_interval, ids).start()
    database = create_engine(args.database_url)  # one engine for the reads below: building one costs ~20 ms
    console.print(
        f"burst: a worker with {args.workers} threads drains the queue; {args.pollers} pollers every "
        f"{args.poll_interval} s"
    )
    worker_pid = start_worker()
    # The worker starts Ray and warms one process per thread before its first claim: not orchestration.
    wait_for(lambda: unfinished(database) < args.jobs, 300, "the first claim", interval=0.05)
    pollers.take()
    cpu_before = psutil.cpu_times()
    groups_before = cpu_by_group(worker_pid, pollers.pid)
    clock = time.perf_counter()
    wait_for(lambda: unfinished(database) == 0, 1800, "the burst to end", interval=0.5)
    burst_seconds = time.perf_counter() - clock
    cpu_after = psutil.cpu_times()
    groups = {name: used - groups_before.get(name, 0.0) for name, used in cpu_by_group(worker_pid, pollers.pid).items()}
    burst_polls = pollers.take()
    times = job_times(database, ids)

    console.print(f"rest: {args.rest_seconds:g} s of polling an idle server")
    time.sleep(args.rest_seconds)
    rest_latencies = [latency for _, latency in pollers.take()]
    pollers.stop()
    database.dispose()
    busy = (sum(cpu_after) - cpu_after.idle - cpu_after.iowait) - (
        sum(cpu_before) - cpu_before.idle - cpu_before.iowait
    )
    return times, submit_seconds, burst_seconds, busy, groups, burst_polls, rest_latencies, pollers.errors


def report(
    args, times, submit_seconds, burst_seconds, busy_cpu, groups, burst_polls, rest_latencies, poll_errors
) -> None:
    completed = times[times["status"] == "completed"]
    first_claim = times["started_at"].min()
    span = (times["completed_at"].max() - first_claim).total_seconds()
    # The jobs were queued before the worker started: a job's wait counts from the first claim (or its creation).
    waits = (times["started_at"] - times["created_at"].clip(lower=first_claim)).dt.total_seconds().to_list()
    runs = (times["completed_at"] - times["started_at"]).dt.total_seconds().to_list()
    jobs_per_s = len(completed) / span
    burst_latencies = [latency for _, latency in burst_polls]
    # Where the slow polls fell: one stall of the server shows as many slow polls in the same second.
    slow_seconds = pd.Series(
        [int(sent_at - first_claim.timestamp()) for sent_at, latency in burst_polls if latency > SLOW_POLL_SECONDS],
        dtype="int64",
    ).value_counts()
    if args.trace:
        pd.DataFrame(burst_polls, columns=["sent_at", "latency_s"]).to_csv(args.trace, index=False)
    figures = {
        "jobs_per_s": round(jobs_per_s, 1),
        "wait_p50_s": round(percentile(waits, 50), 2),
        "wait_p99_s": round(percentile(waits, 99), 2),
        "get_p50_ms": round(1000 * percentile(burst_latencies, 50), 1),
        "get_p99_ms": round(1000 * percentile(burst_latencies, 99), 1),
        "rest_get_p50_ms": round(1000 * percentile(rest_latencies, 50), 1),
        "rest_get_p99_ms": round(1000 * percentile(rest_latencies, 99), 1),
        "cpu_ms_per_job": round(1000 * busy_cpu / len(times), 1),
    }
    print_table(
        f"{len(times)} seasonal-naive jobs, {args.workers} worker threads (nice {args.worker_nice}), PostgreSQL",
        ["figure", "value"],
        [
            ["jobs completed", f"{len(completed)} of {len(times)}"],
            ["submission (8 HTTP clients)", f"{submit_seconds:.1f} s ({len(times) / submit_seconds:.0f} jobs/s)"],
            ["first claim -> last completed", f"{span:.1f} s"],
            ["throughput", f"{jobs_per_s:.1f} jobs/s"],
            [
                "queue wait from the first claim p50 / p99",
                f"{percentile(waits, 50):.2f} / {percentile(waits, 99):.2f} s",
            ],
            ["run time (claim -> completed) p50 / p99", f"{percentile(runs, 50):.3f} / {percentile(runs, 99):.3f} s"],
            ["machine CPU per job (burst)", f"{figures['cpu_ms_per_job']:.1f} ms"],
            *[[f"  of which {name}", f"{1000 * used / len(times):.1f} ms"] for name, used in groups.items()],
            [
                f"GET while the queue drains p50 / p99 ({len(burst_latencies)} requests)",
                f"{figures['get_p50_ms']:.1f} / {figures['get_p99_ms']:.1f} ms",
            ],
            [
                f"GET at rest p50 / p99 ({len(rest_latencies)} requests)",
                f"{figures['rest_get_p50_ms']:.1f} / {figures['rest_get_p99_ms']:.1f} ms",
            ],
            [
                f"polls over {1000 * SLOW_POLL_SECONDS:.0f} ms while draining",
                f"{int(slow_seconds.sum())}"
                + "".join(f"; {n} in second {second}" for second, n in slow_seconds.head(3).items()),
            ],
            ["poll errors", str(poll_errors)],
        ],
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
