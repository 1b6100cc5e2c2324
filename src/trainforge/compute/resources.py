"""How much CPU and memory a piece of work used in this process: what a job's Ray task reports about itself.

Ray reuses its worker processes between tasks, so the process's lifetime figures (``ru_maxrss``, total CPU time)
belong to every job it ever ran. This measures from a start to an end instead: CPU time as a difference, and the
peak resident memory since the start. On Linux the kernel keeps that peak exactly (``VmHWM``) and lets a process
reset it; elsewhere a small background thread samples the resident memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

DEFAULT_SAMPLE_SECONDS = 0.1

# Writing "5" resets the process's peak resident memory (VmHWM) to its current one (Linux 4.0+, proc(5)).
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


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

    The peak is the kernel's own where it can be reset (Linux): exact, and no thread. That reset is per process,
    so two measurements must not overlap in one process (a Ray worker process runs one task at a time). Elsewhere
    the resident memory is sampled every ``sample_seconds``, and a peak shorter than that can be missed.
    """
    usage = ResourceUsage()
    cpu_before = time.process_time()  # user + system time of every thread of this process
    peak = _KernelPeak.start() or _SampledPeak(sample_seconds)
    try:
        yield usage
    finally:
        usage.peak_memory_mb = peak.stop() / 2**20
        usage.cpu_seconds = max(0.0, time.process_time() - cpu_before)


class _KernelPeak:
    """The peak resident memory that Linux keeps for the process (``VmHWM``), reset at the start."""

    @classmethod
    def start(cls) -> _KernelPeak | None:
        """Reset the kernel's peak; None where that is not possible (not Linux, or /proc is read-only)."""
        try:
            _CLEAR_REFS.write_text("5")
            cls._read()
        except (OSError, ValueError):
            return None
        return cls()

    def stop(self) -> float:
        return self._read()

    @staticmethod
    def _read() -> float:
        """VmHWM in bytes (the file gives kB)."""
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
        raise ValueError("no VmHWM in /proc/self/status")


class _SampledPeak:
    """The peak resident memory, sampled by a background thread until :meth:`stop`."""

    def __init__(self, sample_seconds: float) -> None:
        self._process = psutil.Process()
        self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._sampler = threading.Thread(
            target=self._sample, args=(sample_seconds,), name="trainforge-resource-sampler", daemon=True
        )
        self._sampler.start()

    def _sample(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self._peak = max(self._peak, self._process.memory_info().rss)
            except psutil.Error:  # the process is going away; the samples so far stand
                return

    def stop(self) -> float:
        self._stop.set()
        self._sampler.join()
        return max(self._peak, self._process.memory_info().rss)
