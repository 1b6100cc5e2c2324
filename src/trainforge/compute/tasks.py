"""The Ray tasks that do a job's computation.

A task only computes: it streams progress events and its result back to the worker (a Ray streaming generator),
and the worker alone writes to the metadata database and to MLflow. That keeps SQLite single-writer and lets the
same task run on a remote cluster that cannot reach the worker's database or MLflow. The task does touch files by
path: it reads the feature store, and reads and writes the job's step checkpoints (``request.checkpoint_dir``);
on a remote cluster both roots must be shared storage, mounted at the same path on the worker and every node.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ray

from trainforge.pipeline.request import PipelineRequest
from trainforge.pipeline.result import PipelineResult, StepEvent

# A streamed item costs the task's process about 3 ms of CPU in Ray (an object put and a report to the owner); a
# short job has half a dozen events. So events travel in batches, at most this far apart: a long job's log lags by
# at most this much, and a short job's whole run is one message.
BATCH_SECONDS = 0.25


@ray.remote(max_retries=0)
def run_forecast_task(request: PipelineRequest) -> Iterator[list[StepEvent | PipelineResult]]:
    """Run the forecast pipeline inside a Ray worker (a generator function: Ray streams each yielded item).

    Yields lists of the pipeline's events, in order, each list at most :data:`BATCH_SECONDS` after its first event;
    the last list ends with the :class:`PipelineResult`. The last event before the result reports the CPU seconds
    and peak memory of this task's process while it ran (``cpu_seconds``, ``peak_memory_mb``), which the worker
    stores with the job's metrics.
    """
    from trainforge.compute.resources import measure_resources
    from trainforge.pipeline.forecast import run_forecast_pipeline  # imported in the Ray worker, not at start-up

    def events() -> Iterator[StepEvent | PipelineResult]:
        result: PipelineResult | None = None
        with measure_resources() as usage:
            for item in run_forecast_pipeline(**request.arguments()):
                if isinstance(item, PipelineResult):
                    result = item  # held back so that the usage, measured to the end, comes first
                else:
                    yield item
        yield StepEvent(
            "evaluate",
            f"Ray work used {usage.cpu_seconds:.1f} CPU seconds and at most {usage.peak_memory_mb:.0f} MB of memory",
            metrics=usage.as_metrics(),
        )
        if result is not None:
            yield result

    yield from batched(events(), BATCH_SECONDS)


_END = object()

# The threads that run a task's pipeline while the task's own thread hands its events on (see batched). Kept for the
# life of the Ray worker process: starting a thread per task cost ~0.5 ms of CPU, a tenth of a short job's own work.
# More than one, so that a pipeline still running after its task was abandoned never holds up the next task.
_PRODUCERS: ThreadPoolExecutor | None = None
_PRODUCERS_LOCK = threading.Lock()


def _producers() -> ThreadPoolExecutor:
    global _PRODUCERS
    with _PRODUCERS_LOCK:
        if _PRODUCERS is None:
            _PRODUCERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trainforge-pipeline")
        return _PRODUCERS


def batched(items: Iterator[Any], seconds: float) -> Iterator[list[Any]]:
    """Lists of ``items``, each handed on at most ``seconds`` after its first item arrived, the last at the end.

    ``items`` runs in a thread of a pool kept per process, so that an item is handed on in time even when the next
    one is a long step away (a fit). An exception of ``items`` is raised here, after the items before it. If the
    consumer stops early, ``items`` is closed at its next item. Written here because neither Ray's streaming
    generators nor the standard library batch by time.
    """
    arrived: queue.Queue[Any] = queue.Queue()
    abandoned = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if abandoned.is_set():
                    break
                arrived.put(item)
        except BaseException as error:  # handed to the consumer, which raises it in the Ray task
            arrived.put(_Failure(error))
        finally:
            if hasattr(items, "close"):
                items.close()  # a generator abandoned midway runs its cleanup here, in its own thread
        arrived.put(_END)

    _producers().submit(produce)
    batch: list[Any] = []
    deadline = None
    try:
        while True:
            try:
                item = arrived.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                yield batch
                batch, deadline = [], None
                continue
            if item is _END:
                if batch:
                    yield batch
                return
            if isinstance(item, _Failure):
                if batch:
                    yield batch
                raise item.error
            batch.append(item)
            if deadline is None:
                deadline = time.monotonic() + seconds
    finally:
        abandoned.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


@ray.remote(num_cpus=0, max_retries=0)
def _preload(barrier: str, processes: int, timeout_seconds: float) -> int:
    import os
    import time
    from pathlib import Path

    import trainforge.pipeline.forecast  # noqa: F401  (the import is the point: pandas, pyarrow, LightGBM)
    from trainforge.startup import freeze_startup_objects

    freeze_startup_objects()  # this process now runs jobs for as long as Ray keeps it (see trainforge.startup)

    # Hold this process until every warm-up task has one of its own; otherwise Ray would hand the next warm-up
    # task to a process that finished its import, and fewer processes than asked for would be warmed.
    here = Path(barrier)
    (here / str(os.getpid())).touch()
    deadline = time.monotonic() + timeout_seconds
    while len(list(here.iterdir())) < processes and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.getpid()


def warm_up_workers(processes: int, timeout_seconds: float = 120.0) -> set[int]:
    """Import the pipeline in ``processes`` Ray worker processes, so that no job pays the import (~3 s each).

    Ray reuses its worker processes between tasks (and :func:`~trainforge.compute.ray_runtime.ensure_ray` has it
    keep this many), so a process warmed here runs later jobs with the libraries already loaded. Local Ray only:
    the tasks meet at a directory on this machine. Returns the warmed processes' pids.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="trainforge-warm-up-") as barrier:
        return set(ray.get([_preload.remote(barrier, processes, timeout_seconds) for _ in range(processes)]))
