"""A sliding-window rate limit per key (a client address, an organization and source).

In memory, per process: it bounds what one caller can make one process do; with many
API processes the bound is per process. Time is a parameter, so tests need no sleeping.
Memory is bounded too: past ``max_keys`` the key seen least recently is forgotten.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta


class RateLimiter:
    def __init__(self, limit: int, window: timedelta, *, max_keys: int = 10_000) -> None:
        self.limit, self.window, self._max_keys = limit, window, max_keys
        self._hits: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: datetime) -> bool:
        """Count one request of ``key`` at ``now``; False when it is over the limit."""
        return self._touch(key, now, count=True)

    def exhausted(self, key: str, now: datetime) -> bool:
        """Whether ``key`` is at its limit, without counting anything (check, then ``allow``
        only on what should count, such as failures)."""
        return not self._touch(key, now, count=False)

    def _touch(self, key: str, now: datetime, *, count: bool) -> bool:
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed and count:
                hits.append(now)
            self._hits[key] = hits  # most recently seen last
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
            return allowed
