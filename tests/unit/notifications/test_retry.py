"""The webhook retry policy: exponential backoff with jitter, bounded, honouring Retry-After, as plain values."""

from __future__ import annotations

import random

import pytest

from trainforge.notifications import RetryPolicy, SendOutcome


def test_delays_grow_exponentially_within_half_to_all_of_the_ceiling():
    policy = RetryPolicy(base_delay=5, factor=3, max_delay=900, rng=random.Random(7))
    for attempt, ceiling in [(1, 5), (2, 15), (3, 45), (4, 135), (5, 405), (6, 900), (9, 900)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not one value


def test_the_jitter_is_reproducible_with_a_seeded_rng():
    first = RetryPolicy(rng=random.Random(1))
    second = RetryPolicy(rng=random.Random(1))
    assert [first.delay(n) for n in range(1, 6)] == [second.delay(n) for n in range(1, 6)]


def test_retry_after_is_honoured_when_longer_and_capped():
    policy = RetryPolicy(base_delay=5, max_retry_after=600, rng=random.Random(3))
    assert policy.delay(1, retry_after=120) == 120
    assert policy.delay(1, retry_after=10_000) == 600
    assert policy.delay(1, retry_after=0.1) <= 5  # a shorter request does not shorten the backoff


def test_gives_up_after_the_last_attempt():
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize("options", [{"max_attempts": 0}, {"base_delay": -1}, {"factor": 0.5}, {"max_delay": 1}])
def test_nonsense_policies_are_refused(options):
    with pytest.raises(ValueError):
        RetryPolicy(**options)


@pytest.mark.parametrize(
    ("status", "delivered", "permanent"),
    [
        (200, True, False),
        (204, True, False),
        (301, False, True),
        (400, False, True),
        (404, False, True),
        (410, False, True),
        (408, False, False),
        (429, False, False),
        (500, False, False),
        (503, False, False),
        (None, False, False),
    ],
)
def test_which_answers_are_worth_another_attempt(status, delivered, permanent):
    outcome = SendOutcome(status, None if delivered else "x", 1.0)
    assert (outcome.delivered, outcome.permanent) == (delivered, permanent)
