"""How much CPU and memory a piece of work used in this process: what a job's Ray task reports about itself.

Ray reuses its worker processes between tasks, so the process's lifetime figures (``ru_maxrss``, total CPU time)
belong to every job it ever ran. This measures from a start to an end instead: CPU time as a difference, and the
peak resident memory by sampling it in a small background thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

DEFAULT_SAMPLE_SECONDS = 0.1


@dataclass
class ResourceUsage:
    """CPU seconds (user + system, all threads) and peak resident memory (MiB) of this process during the work.

    The peak is the whole process's resident memory, so it includes what the process held before the work began
    (Python, the libraries it imported): it is the memory the work needed the process to have.
    """

    cpu_seconds: float = 0.0
    peak_memory_mb: float = 0.0

    def as_metrics(self) -> dict[str, float]:
        return {"cpu_seconds": round(self.cpu_seconds, 3), "peak_memory_mb": round(self.peak_memory_mb, 1)}


@contextmanager
def measure_resources(sample_seconds: float = DEFAULT_SAMPLE_SECONDS) -> Iterator[ResourceUsage]:
    """Measure the enclosed work; the yielded :class:`ResourceUsage` is filled in when the block ends.

    A peak shorter than ``sample_seconds`` between two samples can be missed; the sampler costs about one
    ``/proc`` read per sample.
    """
    process = psutil.Process()
    usage = ResourceUsage()
    stop = threading.Event()
    peak = [process.memory_info().rss]

    def sample() -> None:
        while not stop.wait(sample_seconds):
            try:
                peak[0] = max(peak[0], process.memory_info().rss)
            except psutil.Error:  # the process is going away; the samples so far stand
                return

    sampler = threading.Thread(target=sample, name="trainforge-resource-sampler", daemon=True)
    cpu_before = _cpu_seconds(process)
    sampler.start()
    try:
        yield usage
    finally:
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], process.memory_info().rss)
        usage.cpu_seconds = max(0.0, _cpu_seconds(process) - cpu_before)
        usage.peak_memory_mb = peak[0] / 2**20


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system
