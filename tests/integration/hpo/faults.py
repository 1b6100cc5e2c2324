"""Trial actors that fail on purpose, for the coordinator's tests (not collected: the name does not start with test_).

Built by functions so that Ray pickles each class by value: the test process's tests package need not be
importable in Ray's worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import ray

from trainforge.hpo.trial_actor import TrialRunner


def raising_actor(numbers: Collection[int]) -> Any:
    """A trial actor class whose trials ``numbers`` raise (a retry gets a new number, so it succeeds)."""
    failing = frozenset(numbers)

    class RaisingRunner(TrialRunner):
        @ray.method(num_returns="streaming")
        def run(self, trial_number, params, report_every):
            if trial_number in failing:
                raise ValueError(f"trial {trial_number} fails on purpose")
            yield from super().run(trial_number, params, report_every)

    return ray.remote(max_concurrency=2, max_restarts=0)(RaisingRunner)


def dying_actor(numbers: Collection[int]) -> Any:
    """A trial actor class whose process exits in trials ``numbers``, as if killed (out of memory, node lost)."""
    dying = frozenset(numbers)

    class DyingRunner(TrialRunner):
        @ray.method(num_returns="streaming")
        def run(self, trial_number, params, report_every):
            if trial_number in dying:
                os._exit(1)
            yield from super().run(trial_number, params, report_every)

    return ray.remote(max_concurrency=2, max_restarts=0)(DyingRunner)
