"""Rate limits hold across server processes: the window lives in the database (both kinds).

Each "process" here is a container of its own (its own engine and connection pool) on
the same database, which is what two ``passgate serve`` processes share.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.conftest import FixedClock

from passgate.adapters.db.rate_limits import SqlRateLimiter
from passgate.bootstrap import Container, build_container
from passgate.config import Settings
from passgate.services import retention
from passgate.web import passkit
from passgate.web.app import create_app


@pytest.fixture
def second(settings: Settings, clock: FixedClock) -> Iterator[Container]:
    c = build_container(settings, clock=clock)  # type: ignore[arg-type]
    yield c
    c.close()


def test_passkit_log_limit_is_shared_by_two_server_processes(
    client: TestClient, second: Container
) -> None:
    with TestClient(create_app(second), raise_server_exceptions=False) as other:
        for n in range(passkit.LOG_LIMIT):
            answering = client if n % 2 else other
            assert answering.post("/passkit/v1/log", json={"logs": ["x"]}).status_code == 200
        assert client.post("/passkit/v1/log", json={"logs": ["x"]}).status_code == 429
        assert other.post("/passkit/v1/log", json={"logs": ["x"]}).status_code == 429


def test_concurrent_requests_in_many_processes_never_pass_the_limit(
    settings: Settings, clock: FixedClock
) -> None:
    processes = [build_container(settings, clock=clock) for _ in range(4)]  # type: ignore[arg-type]
    limiters = [SqlRateLimiter(c.engine, "test", 5, timedelta(minutes=1)) for c in processes]
    now = clock.now()
    start = threading.Barrier(len(limiters) * 4)
    allowed: list[bool] = []
    errors: list[BaseException] = []

    def hit(limiter: SqlRateLimiter) -> None:
        try:
            start.wait(10)
            allowed.extend(limiter.allow("k", now) for _ in range(3))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=hit, args=(lim,)) for lim in limiters for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in processes:
        c.close()
    assert errors == []
    assert len(allowed) == 48 and allowed.count(True) == 5


def test_the_window_slides_and_refusals_are_not_counted(container: Container) -> None:
    limiter = SqlRateLimiter(container.engine, "test", 2, timedelta(seconds=10))
    t = container.clock.now()
    assert limiter.allow("a", t) and limiter.allow("a", t + timedelta(seconds=4))
    assert not limiter.allow("a", t + timedelta(seconds=9)) and limiter.exhausted("a", t)
    assert limiter.allow("b", t)  # per key
    # The first hit leaves the window at t+10: one place again, the refusal did not count.
    assert limiter.allow("a", t + timedelta(seconds=10, milliseconds=1))
    assert not limiter.allow("a", t + timedelta(seconds=11))
    assert not limiter.exhausted("a", t + timedelta(seconds=30))


def test_keys_with_nul_or_any_length_are_stored_hashed(container: Container) -> None:
    limiter = SqlRateLimiter(container.engine, "test", 1, timedelta(seconds=10))
    t = container.clock.now()
    key = "org\x00" + "x" * 5000 + "\udcff"
    assert limiter.allow(key, t) and not limiter.allow(key, t)
    with container.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT key FROM rate_limits")).scalars().all()
    assert len(stored) == 1 and len(stored[0]) == 64 and "org" not in stored[0]


def test_the_retention_job_drops_windows_that_have_passed(container: Container) -> None:
    limiter = SqlRateLimiter(container.engine, "test", 3, timedelta(minutes=1))
    t = container.clock.now()
    limiter.allow("old", t)
    limiter.allow("new", t + timedelta(minutes=5))
    retention.prune(container.retention_store, timedelta(days=30), t + timedelta(minutes=5))
    with container.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM rate_limits")).scalar_one()
    assert left == 1
    assert limiter.allow("old", t + timedelta(minutes=5, seconds=1))  # nothing remembered
