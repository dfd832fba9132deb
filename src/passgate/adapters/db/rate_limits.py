"""Rate limits shared by every server process: the sliding window kept in the database.

One row per limited key holds the times of its counted requests (at most ``limit`` of
them). A check runs in one write transaction that locks the key's row first (PostgreSQL:
``SELECT ... FOR UPDATE`` on the row; SQLite: ``BEGIN IMMEDIATE``, the database write
lock), so two processes counting the same key are serialized: the bound is the same
whether one process or twenty answer the requests. Keys are stored hashed (client
addresses are not kept in clear, and NUL or overlong keys cannot reach the database).
The retention job deletes rows whose window has passed.

Meant for small limits (tens per window: the row holds one timestamp per counted
request) on requests that are rare by nature; each counted request is one committed
write (on SQLite with synchronous=FULL about 10 ms on a loaded machine).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from passgate.adapters.db.engine import IMMEDIATE
from passgate.adapters.db.tables import UTCDateTime, metadata

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    # Epoch seconds of the counted requests still inside the window, oldest first.
    sa.Column("hits", sa.JSON, nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)


class SqlRateLimiter:
    """The RateLimiter of services.rate_limit, shared across processes."""

    def __init__(self, engine: Engine, name: str, limit: int, window: timedelta) -> None:
        self.limit, self.window = limit, window
        self._engine, self._name = engine, name

    def _key(self, key: str) -> str:
        raw = f"{self._name}\x00{key}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(raw).hexdigest()

    def allow(self, key: str, now: datetime) -> bool:
        """Count one request of ``key`` at ``now``; False (not counted) when over the limit."""
        k = self._key(key)
        conn: Connection
        with self._engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn = conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                hits = self._locked_hits(conn, k, now)
                allowed = len(hits) < self.limit
                if allowed:
                    hits.append(now.timestamp())
                conn.execute(
                    sa.update(rate_limits)
                    .where(rate_limits.c.key == k)
                    .values(hits=hits, expires_at=self._expiry(hits, now))
                )
        return allowed

    def exhausted(self, key: str, now: datetime) -> bool:
        """Whether ``key`` is at its limit, counting nothing (a read, no lock)."""
        with self._engine.connect() as conn:
            stored = conn.execute(
                sa.select(rate_limits.c.hits).where(rate_limits.c.key == self._key(key))
            ).scalar()
        return len(self._live(stored or [], now)) >= self.limit

    def _locked_hits(self, conn: Connection, k: str, now: datetime) -> list[float]:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            insert(rate_limits)
            .values(key=k, hits=[], expires_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        stored = conn.execute(
            sa.select(rate_limits.c.hits).where(rate_limits.c.key == k).with_for_update()
        ).scalar_one()
        return self._live(stored, now)

    def _live(self, stored: list[float], now: datetime) -> list[float]:
        start = (now - self.window).timestamp()
        return [float(t) for t in stored if float(t) > start]

    def _expiry(self, hits: list[float], now: datetime) -> datetime:
        if not hits:
            return now
        return datetime.fromtimestamp(max(hits), tz=now.tzinfo) + self.window
