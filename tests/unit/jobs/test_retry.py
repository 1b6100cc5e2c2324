import random

import pytest

from trainforge.errors import FeatureSetNotFound, InsufficientData, InvalidInput, PipelineError
from trainforge.jobs.retry import RetryPolicy


@pytest.mark.parametrize(
    "error", [InvalidInput("bad", field="x"), InsufficientData("short"), FeatureSetNotFound("t", "fs")]
)
def test_configuration_and_data_errors_are_never_retried(error):
    decision = RetryPolicy().decide(attempt=1, max_attempts=5, error=error)
    assert not decision.retry
    assert "not retried" in decision.reason


def test_the_last_attempt_is_not_retried():
    decision = RetryPolicy().decide(attempt=3, max_attempts=3, error=PipelineError("boom"))
    assert not decision.retry
    assert "last" in decision.reason


def test_backoff_doubles_within_jitter_and_is_capped():
    policy = RetryPolicy(base_delay_seconds=2, max_delay_seconds=10, jitter=0.25)
    rng = random.Random(7)
    delays = [
        policy.decide(attempt=n, max_attempts=10, error=RuntimeError(), rng=rng).delay_seconds for n in (1, 2, 3, 4, 5)
    ]
    for attempt, delay in enumerate(delays, start=1):
        expected = min(10, 2 * 2 ** (attempt - 1))
        assert expected * 0.75 <= delay <= expected * 1.25


def test_jitter_spreads_jobs_that_failed_together():
    policy = RetryPolicy(base_delay_seconds=10, jitter=0.5)
    rng = random.Random(1)
    delays = {
        round(policy.decide(attempt=1, max_attempts=3, error=OSError(), rng=rng).delay_seconds, 3) for _ in range(20)
    }
    assert len(delays) > 15
