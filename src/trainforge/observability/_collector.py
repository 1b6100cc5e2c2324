"""Service metrics for Prometheus, read from the metadata database at scrape time.

Every API replica and worker process shares the database, so a scrape of any replica shows the whole service,
and no counter is lost when a process restarts. Nothing is counted in process memory.

The distributions (queue wait, job and step durations, CPU and memory of jobs) are *gauge histograms* of a
recent window (default: the last hour): a cumulative histogram since the beginning of time would need every job
ever run at each scrape, while the window is one indexed range of recent events. Read them with
``histogram_quantile(0.9, trainforge_job_duration_seconds_bucket)`` directly, not through ``rate()``.

No metric carries a tenant, model or job label: ``/metrics`` needs no API key, and must not list who uses the
service (nor grow a series per tenant).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString
from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import aliased

from trainforge.db.engine import read_transaction
from trainforge.db.tables import notification_deliveries, training_job_events, training_jobs, workers
from trainforge.db.types import utcnow
from trainforge.jobs.status import JobStatus
from trainforge.pipeline.result import STEPS

jobs = training_jobs.c
events = training_job_events.c

QUEUE_WAIT_BUCKETS = (0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 2 * 3600, 6 * 3600)
STEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
CPU_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 16 * 3600)
MEMORY_BUCKETS = tuple(float(2**power) for power in range(27, 36))  # 128 MiB .. 32 GiB
_TERMINAL = tuple(status.value for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED))
_WAITING_DELIVERIES = ("pending", "sending", "failed")


class ServiceMetricsCollector:
    """A ``prometheus_client`` collector of job, queue, worker and notification metrics.

    Args:
        engine: the metadata database.
        window_seconds: how far back the distributions look.
        worker_stale_seconds: a worker whose last heartbeat is older than this is not counted alive.
        clock: the time (tests pass a fake one).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        window_seconds: float = 3600.0,
        worker_stale_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.window = timedelta(seconds=window_seconds)
        self.worker_stale = timedelta(seconds=worker_stale_seconds)
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # names are not registered up front: registering must not query the database

    def collect(self) -> Iterator[Metric]:
        began = time.monotonic()
        now = self.clock()
        since = now - self.window
        window = f"the last {self.window.total_seconds():g} s"
        with read_transaction(self.engine) as conn:
            yield _jobs_by_status(conn)
            yield from _queue(conn, now)
            waits = _queue_waits(conn, since)
            runs = _run_durations(conn, since)
            finished = _completed_job_metrics(conn, since)
            yield from _workers(conn, now - self.worker_stale)
            yield _deliveries(conn)
        yield _histogram(
            "trainforge_job_queue_wait_seconds",
            f"Time from entering the queue to being claimed, of the claims in {window}.",
            {(): waits},
            QUEUE_WAIT_BUCKETS,
        )
        yield _histogram(
            "trainforge_job_duration_seconds",
            f"Run time of the jobs (their last attempt) that ended in {window}, by how they ended.",
            runs,
            DURATION_BUCKETS,
            labels=("status",),
        )
        yield _histogram(
            "trainforge_job_step_duration_seconds",
            f"Duration of each pipeline step, of the jobs completed in {window}.",
            finished["steps"],
            STEP_BUCKETS,
            labels=("step",),
        )
        yield _histogram(
            "trainforge_job_cpu_seconds",
            f"CPU seconds of the Ray work of the jobs completed in {window}.",
            {(): finished["cpu"]},
            CPU_BUCKETS,
        )
        yield _histogram(
            "trainforge_job_peak_memory_bytes",
            f"Peak resident memory of the Ray worker process running each job completed in {window}.",
            {(): finished["memory"]},
            MEMORY_BUCKETS,
        )
        yield GaugeMetricFamily(
            "trainforge_metrics_window_seconds", "How far back the gauge histograms look.", self.window.total_seconds()
        )
        yield GaugeMetricFamily(
            "trainforge_metrics_scrape_duration_seconds",
            "Time this scrape spent reading the metadata database.",
            time.monotonic() - began,
        )


def _jobs_by_status(conn) -> Metric:
    counts = dict(conn.execute(select(jobs.status, func.count()).group_by(jobs.status)).all())
    family = GaugeMetricFamily("trainforge_jobs", "Jobs in each status, all tenants together.", labels=["status"])
    for status in JobStatus:
        family.add_metric([status.value], counts.get(status.value, 0))
    return family


def _queue(conn, now: datetime) -> Iterator[Metric]:
    ready = and_(jobs.status == JobStatus.QUEUED.value, or_(jobs.not_before.is_(None), jobs.not_before <= now))
    depth, oldest = conn.execute(
        select(func.count(), func.min(func.coalesce(jobs.not_before, jobs.created_at))).where(ready)
    ).one()
    yield GaugeMetricFamily(
        "trainforge_queue_depth",
        "Queued jobs a worker may claim now (not counting retries still in their backoff).",
        depth,
    )
    age = 0.0 if oldest is None else max(0.0, (now - _aware(oldest)).total_seconds())
    yield GaugeMetricFamily(
        "trainforge_queue_oldest_age_seconds",
        "How long the longest-waiting claimable job has waited (since it was queued or its backoff ended).",
        age,
    )


def _queue_waits(conn, since: datetime) -> list[float]:
    # Each claim in the window, paired with the latest time its job entered the queue before that claim.
    claim, entry = aliased(training_job_events), aliased(training_job_events)
    rows = conn.execute(
        select(claim.c.created_at, func.max(entry.c.created_at))
        .join(
            entry,
            and_(
                entry.c.job_id == claim.c.job_id,
                entry.c.to_status == JobStatus.QUEUED.value,
                entry.c.event_id < claim.c.event_id,
            ),
        )
        .where(claim.c.to_status == JobStatus.RUNNING.value, claim.c.created_at >= since)
        .group_by(claim.c.event_id, claim.c.created_at)
    ).all()
    return [(claimed - _aware(queued)).total_seconds() for claimed, queued in rows if queued is not None]


def _run_durations(conn, since: datetime) -> dict[tuple[str, ...], list[float]]:
    # Each ending of a running job in the window, paired with the claim that started that attempt.
    end, claim = aliased(training_job_events), aliased(training_job_events)
    rows = conn.execute(
        select(end.c.to_status, end.c.created_at, func.max(claim.c.created_at))
        .join(
            claim,
            and_(
                claim.c.job_id == end.c.job_id,
                claim.c.to_status == JobStatus.RUNNING.value,
                claim.c.event_id < end.c.event_id,
            ),
        )
        .where(
            end.c.to_status.in_(_TERMINAL),
            end.c.from_status == JobStatus.RUNNING.value,
            end.c.created_at >= since,
        )
        .group_by(end.c.event_id, end.c.to_status, end.c.created_at)
    ).all()
    durations: dict[tuple[str, ...], list[float]] = {(status,): [] for status in _TERMINAL}
    for status, ended, started in rows:
        if started is not None:
            durations[(status,)].append((ended - _aware(started)).total_seconds())
    return durations


def _completed_job_metrics(conn, since: datetime) -> dict[str, Any]:
    rows = conn.execute(
        select(jobs.metrics)
        .select_from(training_job_events)
        .join(training_jobs, jobs.job_id == events.job_id)
        .where(events.to_status == JobStatus.COMPLETED.value, events.created_at >= since)
    ).scalars()
    steps: dict[tuple[str, ...], list[float]] = defaultdict(list)
    cpu: list[float] = []
    memory: list[float] = []
    for metrics in rows:
        metrics = metrics or {}
        for step in STEPS:
            if _is_number(value := metrics.get(f"{step}_seconds")):
                steps[(step,)].append(float(value))
        if _is_number(value := metrics.get("cpu_seconds")):
            cpu.append(float(value))
        if _is_number(value := metrics.get("peak_memory_mb")):
            memory.append(float(value) * 2**20)
    return {"steps": steps, "cpu": cpu, "memory": memory}


def _workers(conn, heard_since: datetime) -> Iterator[Metric]:
    alive = conn.execute(
        select(func.count()).where(workers.c.status != "stopped", workers.c.heartbeat_at >= heard_since)
    ).scalar_one()
    silent = conn.execute(
        select(func.count()).where(workers.c.status != "stopped", workers.c.heartbeat_at < heard_since)
    ).scalar_one()
    yield GaugeMetricFamily("trainforge_workers_alive", "Workers that heartbeat recently and have not stopped.", alive)
    yield GaugeMetricFamily(
        "trainforge_workers_silent",
        "Workers that never said they stopped but have not heartbeat lately (crashed, or their host is down).",
        silent,
    )


def _deliveries(conn) -> Metric:
    counts = dict(
        conn.execute(
            select(notification_deliveries.c.status, func.count())
            .where(notification_deliveries.c.status.in_(_WAITING_DELIVERIES))
            .group_by(notification_deliveries.c.status)
        ).all()
    )
    family = GaugeMetricFamily(
        "trainforge_notification_deliveries",
        "Webhook deliveries waiting to be sent, being sent, or given up on.",
        labels=["status"],
    )
    for status in _WAITING_DELIVERIES:
        family.add_metric([status], counts.get(status, 0))
    return family


def _histogram(
    name: str,
    documentation: str,
    samples: dict[tuple[str, ...], list[float]],
    bounds: Sequence[float],
    *,
    labels: Sequence[str] = (),
) -> Metric:
    family = GaugeHistogramMetricFamily(name, documentation, labels=list(labels))
    for label_values, values in sorted(samples.items()):
        buckets = [(floatToGoString(bound), sum(1 for value in values if value <= bound)) for bound in bounds]
        buckets.append(("+Inf", len(values)))
        family.add_metric(list(label_values), buckets, gsum_value=sum(values))
    return family


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _aware(moment: datetime) -> datetime:
    # MIN/MAX/COALESCE keep their column's type, so UTCDateTime makes them aware; this guards a driver that would not.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
