"""PassKit /log takes no credentials: it is rate-limited per client and what it stores is capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import FixedClock
from tests.passes.conftest import PASS_TYPE
from tests.passes.helpers import MemberApp, iphone

from passgate.bootstrap import Container
from passgate.services.credentials import passkit_service
from passgate.services.rate_limit import RateLimiter
from passgate.web import passkit


def _stored(container: Container) -> tuple[int, int]:
    with container.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT pass_id FROM wallet_logs").fetchall()
    return sum(1 for r in rows if r[0] is not None), sum(1 for r in rows if r[0] is None)


def test_one_client_gets_429_past_the_limit_until_the_window_moves(
    member: MemberApp, clock: FixedClock
) -> None:
    client = member.client
    for _ in range(passkit.LOG_LIMIT):
        assert client.post("/passkit/v1/log", json={"logs": ["x"]}).status_code == 200
    refused = client.post("/passkit/v1/log", json={"logs": ["x"]})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    clock.advance(seconds=61)
    assert client.post("/passkit/v1/log", json={"logs": ["x"]}).status_code == 200


def test_stored_lines_are_capped_per_pass_and_for_lines_naming_none(
    member: MemberApp, container: Container, clock: FixedClock
) -> None:
    client = member.client
    body = member.add({"iphone": iphone()}).json()
    serial = body["serials"]["iphone"]
    ours = [f"Web service error for {PASS_TYPE} ({serial}): {i}" for i in range(60)]
    noise = [f"line {i}" for i in range(60)]
    posts = 0
    while _stored(container) != (passkit_service.KEEP_LOGS, passkit_service.KEEP_LOGS):
        clock.advance(seconds=61)  # stay under the rate limit: the cap is what is tested
        assert client.post("/passkit/v1/log", json={"logs": ours + noise}).status_code == 200
        posts += 1
        assert posts < 10, _stored(container)
    clock.advance(seconds=61)
    client.post("/passkit/v1/log", json={"logs": ["newest " + ours[0]]})
    assert _stored(container) == (passkit_service.KEEP_LOGS, passkit_service.KEEP_LOGS)
    detail = client.get(f"/api/v1/apple_passes/{body['pass_id']}", headers=member.org.headers)
    assert detail.json()["logs"][0]["message"] == "newest " + ours[0]  # the oldest went


def test_the_limiter_counts_per_key_and_forgets_the_least_recent_key() -> None:
    limiter = RateLimiter(2, timedelta(seconds=10), max_keys=2)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert limiter.allow("a", t) and limiter.allow("a", t)
    assert not limiter.allow("a", t + timedelta(seconds=9))
    assert limiter.allow("b", t)  # another client is not slowed by a
    assert limiter.allow("a", t + timedelta(seconds=10))  # the first hit left the window
    limiter.allow("c", t)  # a third key: the least recently seen (b) is forgotten
    assert limiter.allow("b", t) and limiter.allow("b", t)
