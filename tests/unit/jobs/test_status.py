import pytest

from trainforge.fields import priority_value
from trainforge.jobs.status import (
    ALLOWED_TRANSITIONS,
    RETRYABLE,
    JobStatus,
    can_transition,
    sources_of,
)


def test_terminal_statuses_have_no_way_out_but_failed_can_be_retried():
    assert ALLOWED_TRANSITIONS[JobStatus.COMPLETED] == frozenset()
    assert ALLOWED_TRANSITIONS[JobStatus.CANCELLED] == frozenset()
    assert can_transition(JobStatus.FAILED, JobStatus.QUEUED)
    assert not can_transition(JobStatus.COMPLETED, JobStatus.CANCELLED)
    assert not can_transition(JobStatus.QUEUED, JobStatus.COMPLETED)


@pytest.mark.parametrize("target", list(JobStatus))
def test_sources_of_is_the_inverse_of_the_table(target):
    for source in JobStatus:
        assert (source in sources_of(target)) == can_transition(source, target)


@pytest.mark.parametrize(("given", "stored"), [("low", -10), ("normal", 0), ("high", 10), ("urgent", 20), (7, 7)])
def test_priority_words_and_integers(given, stored):
    assert priority_value(given) == stored


@pytest.mark.parametrize("bad", ["whenever", 101, -101, True])
def test_bad_priority_is_refused(bad):
    with pytest.raises(ValueError, match="priority"):
        priority_value(bad)


def test_a_user_retry_puts_back_failed_jobs_only():
    # running -> queued is allowed, but it is the reaper's and a draining worker's move, never a user's retry.
    assert {JobStatus.FAILED} == RETRYABLE
    assert sources_of(JobStatus.QUEUED) >= RETRYABLE
