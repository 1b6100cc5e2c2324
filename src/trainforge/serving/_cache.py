"""A small thread-safe LRU cache that loads what it lacks, once per key however many threads ask at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LoadingCache"]

K = TypeVar("K")
V = TypeVar("V")


class LoadingCache(Generic[K, V]):
    """Up to ``max_size`` values by key, the least recently used dropped first; a missing one is ``load(key)``-ed.

    Two threads asking for the same missing key load it once (the second waits for the first); threads asking for
    different keys load them at the same time. A load that raises caches nothing: the next request tries again.

    Attributes:
        loads: How many times ``load`` returned a value (for tests and the log: a hit costs nothing).
        hits: How many requests the cache answered without loading.
    """

    def __init__(self, load: Callable[[K], V], max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._load = load
        self.max_size = max_size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._loading: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()
        self.loads = 0
        self.hits = 0

    def get(self, key: K) -> V:
        """The value of ``key``, loaded now if it is not cached."""
        with self._lock:
            found = self._hit(key)
            if found is not None:
                return found[0]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                found = self._hit(key)  # another thread loaded it while this one waited
                if found is not None:
                    return found[0]
            try:
                value = self._load(key)
            except BaseException:
                with self._lock:
                    self._loading.pop(key, None)
                raise
            with self._lock:
                # Stored and the key's lock dropped in one step: a thread arriving in between would load it again.
                self._values[key] = value
                self._loading.pop(key, None)
                self.loads += 1
                while len(self._values) > self.max_size:
                    self._values.popitem(last=False)
            return value

    def peek(self, key: K) -> V | None:
        """The cached value of ``key``, or None; neither loads nor counts as a use."""
        with self._lock:
            return self._values.get(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def _hit(self, key: K) -> tuple[V] | None:
        # Called with the lock held. A tuple, so that a cached None is still a hit.
        if key not in self._values:
            return None
        self._values.move_to_end(key)
        self.hits += 1
        return (self._values[key],)
