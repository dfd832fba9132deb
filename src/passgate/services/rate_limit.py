"""A sliding-window rate limit per key (a client address, an organization and source).

``RateLimit`` (in services.ports) is the port the routes use. The server wires the database one
(adapters.db.rate_limits), shared by every server process, so the bound holds however
many processes answer. ``RateLimiter`` here keeps its window in memory, per process: for
tests and single-process tools. Time is a parameter, so tests need no sleeping. Its
memory is bounded too: past ``max_keys`` the key seen least recently is forgotten.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

# Failed sign-ins per organization and client address: past this many in the window,
# the SSO callbacks answer 429 until it moves (guessing, or an IdP replaying garbage).
SSO_FAILED_LOGINS = 20
SSO_FAILED_WINDOW = timedelta(minutes=10)
# PassKit /log takes no credentials: requests per client address.
PASSKIT_LOG_LIMIT = 10
PASSKIT_LOG_WINDOW = timedelta(minutes=1)


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
