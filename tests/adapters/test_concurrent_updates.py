"""Two transactions changing the same row do not undo each other (both databases).

A write unit of work reads the row it will change under a lock (PostgreSQL) or
inside an immediate write transaction (SQLite), so the second read-modify-write
sees the first one's result instead of overwriting it with a stale copy.
"""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.bootstrap import Container
from passgate.domain import model as m


def test_a_concurrent_read_modify_write_sees_the_committed_change(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    place = org.post("/places", {"name": "HQ", "address": "Main St 1"})
    first_has_read = threading.Event()
    errors: list[BaseException] = []

    def rename_then_commit_late() -> None:
        try:
            with container.uow_factory(org.id) as uow:
                row = uow.repo(m.Place).get(place["id"])
                first_has_read.set()
                # Hold the transaction open while the other writer tries to read.
                threading.Event().wait(0.3)
                row.name = "Head office"
                uow.repo(m.Place).update(row)
        except BaseException as exc:  # asserted below
            errors.append(exc)

    first = threading.Thread(target=rename_then_commit_late)
    first.start()
    assert first_has_read.wait(10)
    with container.uow_factory(org.id) as uow:
        row = uow.repo(m.Place).get(place["id"])  # waits for the first writer
        row.address = "Harbour Rd 2"
        uow.repo(m.Place).update(row)
    first.join(10)
    assert errors == []
    got = client.get(f"/api/v1/places/{place['id']}", headers=org.headers).json()
    assert (got["name"], got["address"]) == ("Head office", "Harbour Rd 2")
