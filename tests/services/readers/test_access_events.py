"""Reader events are stored exactly once, keyed by (reader id, sequence) (R15).

Drives `services.readers.reader_events.ingest`, the one path reader events take into the log.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.bootstrap import Container
from passgate.proto.link import AccessEvent
from passgate.services.readers.reader_events import ingest


def _tap(seq: int, member_id: str, granted: bool = True) -> AccessEvent:
    return AccessEvent(
        sequence=seq,
        occurred_at=datetime(2026, 11, 27, 8, 0, seq % 60, tzinfo=UTC),
        granted=granted,
        reason="granted" if granted else "no_access_right",
        member_id=member_id,
        method="nfc",
    )


def _stored(client: TestClient, org: Org) -> int:
    r = client.get("/api/v1/events?category=access", headers=org.headers)
    return int(r.headers["X-Total-Count"])


def test_the_same_reader_event_stored_twice_is_stored_once(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    reader, member = ids["reader"], ids["member"]
    with container.uow_factory(org.id) as uow:
        assert ingest(uow, reader, [_tap(1, member), _tap(1, member)], container.clock.now()) == [
            1,
            1,
        ]
    assert _stored(client, org) == 1  # the repeat in the same batch was not stored
    with container.uow_factory(org.id) as uow:
        acked = ingest(
            uow, reader, [_tap(1, member), _tap(2, member, granted=False)], container.clock.now()
        )
    assert acked == [1, 2]  # a resent event is acknowledged again, so the reader can drop it
    assert _stored(client, org) == 2  # ... but stored only once
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

    def run(start: int) -> None:
        try:
            for seq in range(start, start + 30):
                with container.uow_factory(org.id) as uow:
                    ingest(uow, ids["reader"], [_tap(seq, ids["member"])], container.clock.now())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (0, 10, 20, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    r = client.get("/api/v1/events?category=access&limit=500", headers=org.headers)
    assert r.headers["X-Total-Count"] == "50"
    assert sorted(e["data"]["sequence"] for e in r.json()) == list(range(50))
