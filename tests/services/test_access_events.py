"""Reader events are stored exactly once, keyed by (reader id, sequence)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.bootstrap import Container
from passgate.services.events import AccessEventInput, record_access_event


def _tap(ids: dict[str, str], seq: int, granted: bool = True) -> AccessEventInput:
    return AccessEventInput(
        reader_id=ids["reader"],
        sequence=seq,
        door_id=ids["door"],
        occurred_at=datetime(2026, 11, 27, 8, 0, seq % 60, tzinfo=UTC),
        granted=granted,
        reason="granted" if granted else "no_access_right",
        member_id=ids["member"],
    )


def test_the_same_reader_event_stored_twice_is_stored_once(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    with container.uow_factory(org.id) as uow:
        assert record_access_event(uow, _tap(ids, 1), now=container.clock.now()) is True
        assert record_access_event(uow, _tap(ids, 1), now=container.clock.now()) is False
    with container.uow_factory(org.id) as uow:
        assert record_access_event(uow, _tap(ids, 1), now=container.clock.now()) is False
        assert (
            record_access_event(uow, _tap(ids, 2, granted=False), now=container.clock.now()) is True
        )
    events = client.get("/api/v1/events?category=access", headers=org.headers).json()
    assert sorted((e["data"]["sequence"], e["granted"], e["reason"]) for e in events) == [
        (1, True, "granted"),
        (2, False, "no_access_right"),
    ]
    denied = client.get("/api/v1/events?granted=false", headers=org.headers).json()
    assert [e["type"] for e in denied] == ["access.denied"]


def test_concurrent_ingest_of_overlapping_batches_stores_each_event_once(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    errors: list[BaseException] = []

    def ingest(start: int) -> None:
        try:
            for seq in range(start, start + 30):
                with container.uow_factory(org.id) as uow:
                    record_access_event(uow, _tap(ids, seq), now=container.clock.now())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(s,)) for s in (0, 10, 20, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    r = client.get("/api/v1/events?category=access&limit=500", headers=org.headers)
    assert r.headers["X-Total-Count"] == "50"
    assert sorted(e["data"]["sequence"] for e in r.json()) == list(range(50))
