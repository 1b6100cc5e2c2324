"""When a failed attempt is tried again: the retry policy as a value (plain Python, no I/O).

Errors that another attempt cannot fix — an invalid configuration, data that is missing or too short — are never
retried. Anything else (a worker that died, a library error, a flaky file system) is retried with exponential
backoff and jitter until the job's attempts are used up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from trainforge.errors import InvalidInput, NotFound

# Another attempt at these would fail the same way.
NEVER_RETRIED: tuple[type[Exception], ...] = (InvalidInput, NotFound)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_seconds: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: attempt n (1-based) waits ``base * 2**(n-1)``, capped, times a random factor in
    ``[1 - jitter, 1 + jitter]`` so that jobs that failed together do not come back together."""

    base_delay_seconds: float = 5.0
    max_delay_seconds: float = 300.0
    jitter: float = 0.5

    def decide(self, *, attempt: int, max_attempts: int, error: BaseException, rng: random.Random | None = None):
        """Whether the job that just failed its ``attempt``-th attempt goes back to the queue, and after how long."""
        if isinstance(error, NEVER_RETRIED):
            return RetryDecision(False, reason=f"{type(error).__name__} is not retried")
        if attempt >= max_attempts:
            return RetryDecision(False, reason=f"attempt {attempt} of {max_attempts} was the last")
        delay = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))
        delay *= (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return RetryDecision(True, delay_seconds=delay, reason=f"attempt {attempt} of {max_attempts} failed")
