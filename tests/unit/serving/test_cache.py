"""The loaded-model cache: least recently used out first, one load per key however many threads ask."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from trainforge.serving import LoadingCache


def test_a_cached_key_is_not_loaded_again_and_the_least_recently_used_goes_first():
    loaded = []
    cache = LoadingCache(lambda key: loaded.append(key) or key.upper(), max_size=2)
    assert cache.get("a") == "A" and cache.get("b") == "B"
    assert cache.get("a") == "A"  # a hit: "a" is now the most recently used
    cache.get("c")  # evicts "b", the least recently used
    assert loaded == ["a", "b", "c"]
    assert (cache.peek("a"), cache.peek("b"), cache.peek("c")) == ("A", None, "C")
    assert (cache.loads, cache.hits, len(cache)) == (3, 1, 2)
    cache.get("b")
    assert loaded == ["a", "b", "c", "b"]


def test_threads_asking_for_one_missing_key_load_it_once():
    calls = []
    started = threading.Event()

    def slow_load(key):
        calls.append(key)
        started.set()
        time.sleep(0.2)
        return object()

    cache = LoadingCache(slow_load, max_size=4)
    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(cache.get, ["m"] * 8))
    assert calls == ["m"]
    assert all(value is values[0] for value in values)


def test_different_keys_load_at_the_same_time():
    barrier = threading.Barrier(2, timeout=5)

    def load(key):
        barrier.wait()  # both loads must be in here at once, or this times out
        return key

    cache = LoadingCache(load, max_size=4)
    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(cache.get, ["x", "y"])) == ["x", "y"]


def test_a_failed_load_caches_nothing():
    attempts = []

    def load(key):
        attempts.append(key)
        if len(attempts) == 1:
            raise OSError("disk hiccup")
        return key

    cache = LoadingCache(load, max_size=1)
    with pytest.raises(OSError):
        cache.get("k")
    assert cache.get("k") == "k"
    assert attempts == ["k", "k"] and cache.loads == 1


def test_the_size_must_be_positive():
    with pytest.raises(ValueError, match="max_size"):
        LoadingCache(str, max_size=0)
