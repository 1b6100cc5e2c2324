"""The Ray tasks that do a job's computation.

A task only computes: it streams progress events and its result back to the worker (a Ray streaming generator),
and the worker alone writes to the metadata database and to MLflow. That keeps SQLite single-writer and lets the
same task run on a remote cluster that cannot reach the worker's database or MLflow. The task does touch files by
path: it reads the feature store, and reads and writes the job's step checkpoints (``request["checkpoint_dir"]``);
on a remote cluster both roots must be shared storage, mounted at the same path on the worker and every node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ray

from trainforge.pipeline.result import PipelineResult, StepEvent


@ray.remote(max_retries=0)
def run_forecast_task(request: dict[str, Any]) -> Iterator[StepEvent | PipelineResult]:
    """Run the forecast pipeline inside a Ray worker (a generator function: Ray streams each yielded item).

    The last event before the result reports the CPU seconds and peak memory of this task's process while it ran
    (``cpu_seconds``, ``peak_memory_mb``), which the worker stores with the job's metrics.
    """
    from trainforge.compute.resources import measure_resources
    from trainforge.pipeline.forecast import run_forecast_pipeline  # imported in the Ray worker, not at start-up

    result: PipelineResult | None = None
    with measure_resources() as usage:
        for item in run_forecast_pipeline(**request):
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


@ray.remote(max_retries=0)
def _preload(hold_seconds: float) -> int:
    import os
    import time

    import trainforge.pipeline.forecast  # noqa: F401  (the import is the point: pandas, pyarrow, LightGBM)

    time.sleep(hold_seconds)  # hold this worker process so the next warm-up task lands in another one
    return os.getpid()


def warm_up_workers(processes: int, hold_seconds: float = 0.5) -> set[int]:
    """Import the pipeline in ``processes`` Ray worker processes, so that no job pays the import (~3 s each).

    Ray reuses its worker processes between tasks, so a process warmed here runs later jobs with the libraries
    already loaded. Returns the warmed processes' pids.
    """
    return set(ray.get([_preload.options(num_cpus=1).remote(hold_seconds) for _ in range(processes)]))
