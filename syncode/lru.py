"""Least-recently-used memories of derived values, kept per process.

Owns `LRU`: values by key within a budget counted by `size(value)` (1 each by default); the
least recently used go first once the budget is passed, the newest always stays. Thread-safe.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Hashable


class LRU:
    """Values by key, the least recently used dropped past `budget` (in units of `size`)."""

    def __init__(self, budget: int, size: Callable[[Any], int] = lambda value: 1) -> None:
        self.budget, self.size, self.used = budget, size, 0
        self.entries: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self.entries.pop(key, None)
            if value is not None:
                self.entries[key] = value  # now the most recent
            return value

    def put(self, key: Hashable, value: Any) -> Any:
        """Keep `value` under `key`; returns it."""
        with self._lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.used -= self.size(old)
            self.entries[key] = value
            self.used += self.size(value)
            while self.used > self.budget and len(self.entries) > 1:
                self.used -= self.size(self.entries.pop(next(iter(self.entries))))
        return value
