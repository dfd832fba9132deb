"""Remote unlock through the REST API, on both databases: roles, tenants, bad input and
the refusals that name their rule (the reader link itself: tests/reader/test_remote_unlock)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.bootstrap import Container
from passgate.domain import model as m


class Door:
    def __init__(self, client: TestClient, container: Container, slug: str = "acme") -> None:
        self.org = Org(client, slug)
        self.client, self.container = client, container
        place = self.org.post("/places", {"name": "HQ", "timezone": "UTC"})["id"]
        self.door = self.org.post("/doors", {"place_id": place, "name": "Front"})["id"]
        self.reader = self.org.post(
            "/readers",
            {"door_id": self.door, "name": "R1", "model": "reader_pro_2_1", "firmware": "2.1.0"},
        )["id"]

    def set_reader(self, **changes: Any) -> None:
        with self.container.uow_factory(self.org.id) as uow:
            reader = uow.repo(m.Reader).get(self.reader)
            for k, v in changes.items():
                setattr(reader, k, v)
            uow.repo(m.Reader).update(reader)

    def online(self) -> None:
        self.set_reader(online=True, last_seen_at=self.container.clock.now())

    def unlock(self, headers: dict[str, str] | None = None, door: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/doors/{door or self.door}/unlock", headers=headers or self.org.headers
        )


@pytest.fixture
def door(client: TestClient, container: Container) -> Door:
    return Door(client, container)


def test_an_admin_unlock_answers_202_with_a_pending_command_and_is_audited(door: Door) -> None:
    door.online()
    r = door.unlock()
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["door_id"], body["reader_id"], body["state"]) == (
        door.door,
        door.reader,
        "pending",
    )
    assert body["id"].startswith("cmd_") and body["finished_at"] is None
    got = door.client.get(f"/api/v1/door_commands/{body['id']}", headers=door.org.headers)
    assert got.status_code == 200 and got.json() == body
    events = door.client.get(
        "/api/v1/events", params={"type": "door.unlock_requested"}, headers=door.org.headers
    ).json()
    assert [(e["object_id"], e["data"]["command_id"], e["actor_type"]) for e in events] == [
        (door.door, body["id"], "api_key")
    ]


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("never_connected", "reader_offline"),
        ("tampered", "reader_tampered"),
        ("lockdown", "door_lockdown"),
        ("no_reader", "no_reader"),
    ],
)
def test_refusals_name_the_rule_and_change_nothing(door: Door, setup: str, code: str) -> None:
    if setup == "tampered":
        door.online()
        door.set_reader(tampered=True)
    elif setup == "lockdown":
        door.online()
        r = door.client.patch(
            f"/api/v1/doors/{door.door}", json={"lockdown": True}, headers=door.org.headers
        )
        assert r.status_code == 200, r.text
    elif setup == "no_reader":
        r = door.client.delete(f"/api/v1/readers/{door.reader}", headers=door.org.headers)
        assert r.status_code == 204, r.text
    before = door.client.get("/api/v1/events", headers=door.org.headers).json()
    r = door.unlock()
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == (code, "door_id")
    assert "Front" in error["message"]
    assert door.client.get("/api/v1/events", headers=door.org.headers).json() == before


def test_read_only_keys_may_follow_but_not_unlock(door: Door) -> None:
    door.online()
    key = door.client.post(
        "/api/v1/api_keys", json={"name": "audit", "role": "read_only"}, headers=door.org.headers
    )
    ro = {"Authorization": f"Bearer {key.json()['token']}"}
    r = door.unlock(ro)
    assert r.status_code == 403, r.text
    command = door.unlock().json()
    assert door.client.get(f"/api/v1/door_commands/{command['id']}", headers=ro).status_code == 200


def test_another_organizations_door_and_command_are_not_found(
    door: Door, client: TestClient, container: Container
) -> None:
    door.online()
    command = door.unlock().json()
    other = Door(client, container, "other")
    r = door.unlock(other.org.headers)
    assert r.status_code == 404 and door.door not in r.text
    r = client.get(f"/api/v1/door_commands/{command['id']}", headers=other.org.headers)
    assert r.status_code == 404 and command["id"] not in r.text


@pytest.mark.parametrize("door_id", ["x" * 41, "door_missing"])
def test_bad_door_ids(door: Door, door_id: str) -> None:
    r = door.unlock(door=door_id)
    assert r.status_code in (404, 422), r.text
    assert r.json()["error"]["field"] in ("door_id", "door")


def test_unknown_or_overlong_command_ids(door: Door) -> None:
    for command_id, status in (("cmd_nope", 404), ("c" * 41, 422)):
        r = door.client.get(f"/api/v1/door_commands/{command_id}", headers=door.org.headers)
        assert r.status_code == status, r.text


def test_without_credentials_401(door: Door) -> None:
    assert door.client.post(f"/api/v1/doors/{door.door}/unlock").status_code == 401
