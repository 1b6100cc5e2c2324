"""When to try a notification again: exponential backoff with jitter, as a value (no I/O, no clock)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": attempt ``n`` waits between half and all of
    ``min(max_delay, base_delay * factor ** (n - 1))`` seconds, so that many deliveries failing together (a
    receiver's outage) do not all come back at the same instant.

    Attributes:
        max_attempts: attempts in all, the first included; after the last one the delivery is ``failed``.
        base_delay: seconds before the second attempt (before jitter).
        factor: growth of the delay from one attempt to the next.
        max_delay: the longest wait, in seconds (before jitter).
        max_retry_after: the longest ``Retry-After`` a receiver may ask for; longer requests are capped.
    """

    max_attempts: int = 5
    base_delay: float = 5.0
    factor: float = 3.0
    max_delay: float = 900.0
    max_retry_after: float = 3600.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.factor < 1 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay and factor >= 1")

    def gives_up_after(self, attempts: int) -> bool:
        """True when ``attempts`` attempts have been made and no other may follow."""
        return attempts >= self.max_attempts

    def delay(self, attempts: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based) before the next one.

        A receiver's ``Retry-After`` (429, 503) is honoured when it asks for longer than the backoff, up to
        ``max_retry_after``.
        """
        ceiling = min(self.max_delay, self.base_delay * self.factor ** max(0, attempts - 1))
        wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, self.max_retry_after)
        return wait
