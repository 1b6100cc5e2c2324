"""How a job's Ray task hands its events on: in batches by time, never holding one back across a long step."""

from __future__ import annotations

import threading

import pytest

from trainforge.compute.tasks import batched


def test_quick_items_travel_as_one_batch():
    assert list(batched(iter(range(5)), seconds=60)) == [[0, 1, 2, 3, 4]]


def test_an_item_before_a_long_step_is_handed_on_during_the_step():
    step_may_end = threading.Event()

    def items():
        yield "fitting"
        # The long step: it only ends once the consumer has received "fitting", so this test would hang (and time
        # out below) if the batch waited for the next item.
        assert step_may_end.wait(timeout=30), "the first batch was held back until the step ended"
        yield "fitted"

    batches = batched(items(), seconds=0.05)
    assert next(batches) == ["fitting"]
    step_may_end.set()
    assert list(batches) == [["fitted"]]


def test_an_error_is_raised_after_the_items_before_it():
    def items():
        yield 1
        raise ValueError("bad data")

    batches = batched(items(), seconds=60)
    assert next(batches) == [1]
    with pytest.raises(ValueError, match="bad data"):
        next(batches)


def test_nothing_to_hand_on():
    assert list(batched(iter(()), seconds=0.01)) == []


def test_the_pipeline_threads_are_kept_between_tasks():
    threads = set()

    def items():
        threads.add(threading.current_thread())
        yield 1

    for _ in range(20):
        assert list(batched(items(), seconds=60)) == [[1]]
    assert threading.current_thread() not in threads
    assert len(threads) <= 4  # a pool's threads, not one new thread per task


def test_an_abandoned_consumer_stops_the_items_at_their_next_one():
    produced, closed = [], threading.Event()
    go_on = threading.Event()

    def items():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
                if i == 0:
                    go_on.wait(timeout=30)
        finally:
            closed.set()

    batches = batched(items(), seconds=0.01)
    assert next(batches) == [0]
    batches.close()  # the Ray task went away
    go_on.set()
    assert closed.wait(timeout=30)
    assert len(produced) <= 2  # the one in flight when the consumer left, at most
