"""Aliro reader groups end to end: certificates at pairing, and a key rotation that keeps
doors opening for devices that took the pass update in between (rotate, promote, retire)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.reader.support import Device, RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.domain.errors import Conflict, PermissionDenied, ValidationError
from passgate.proto.aliro import ReaderCertificate
from passgate.reader.transport.emulated import EmulatedCard
from passgate.services.actors import Actor, ActorKind
from passgate.services.credentials import aliro_groups
from passgate.services.ports import ReaderLink

OPERATOR = Actor(ActorKind.OPERATOR, "op", "operator", None, "owner")


def _granted(ra: RunningAgent, device: Device) -> bool:
    result = ra.agent.tap(EmulatedCard(device.applet))
    return result is not None and result.decision.granted


def _certificate_group(world: World) -> str | None:
    with world.container.uow_factory(world.org.id, write=False) as uow:
        link = uow.repo(ReaderLink).get(world.reader)
    assert link.certificate is not None
    cert = ReaderCertificate.parse(bytes.fromhex(link.certificate))
    assert cert.subject == world.reader and cert.public_key.hex() == link.aliro_public_key
    return link.certificate_group


def _states(world: World) -> list[str]:
    groups = aliro_groups.list_groups(world.container.uow_factory, OPERATOR, world.org.id)
    return [g.state for g in groups]


def test_rotation_keeps_updated_devices_opening_doors(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    uow, org, box = container.uow_factory, world.org.id, container.secret_box
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        first_group = _certificate_group(world)
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            assert _granted(ra, world.device)  # provisioned before any rotation: trusts A

            aliro_groups.rotate(uow, OPERATOR, org, box, container.clock.now())
            assert _states(world) == ["current", "next"]
            updated = Device(world.trusted_groups)  # took the pass update: trusts A and B
            world.device_row = world.add_device(updated)
            assert len(updated.applet._groups) == 2
            wait_until(lambda: _granted(ra, updated), "the new device reaches the reader")
            assert _granted(ra, world.device)  # the reader is still on group A
        finally:
            ra.stop()

        aliro_groups.promote(uow, OPERATOR, org, container.clock.now())
        assert _states(world) == ["previous", "current"]
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.start()  # the reconnect brings a certificate from the new group
        try:
            # The agent holds the new group's certificate (not only the server issued it).
            wait_until(
                lambda: ra.agent.store.get("group_identifier") != first_group, "re-certified"
            )
            assert _certificate_group(world) == ra.agent.store.get("group_identifier")
            wait_until(lambda: _granted(ra, updated), "updated device opens under group B")
            # A device that never took the update trusts only the old group: refused.
            assert not _granted(ra, world.device)
            aliro_groups.retire(uow, OPERATOR, org, container.clock.now())
            assert _states(world) == ["retired", "current"]
            fresh = Device(world.trusted_groups)
            assert len(fresh.applet._groups) == 1
            world.add_device(fresh)
            wait_until(lambda: _granted(ra, fresh), "device provisioned after the rotation")
        finally:
            ra.stop()


def test_rotation_steps_are_ordered_and_authorized(
    client: TestClient, container: Container
) -> None:
    world = World(client, container)
    uow, org, box, now = (
        container.uow_factory,
        world.org.id,
        container.secret_box,
        container.clock.now(),
    )
    with pytest.raises(Conflict):
        aliro_groups.promote(uow, OPERATOR, org, now)
    with pytest.raises(Conflict):
        aliro_groups.retire(uow, OPERATOR, org, now)
    aliro_groups.rotate(uow, OPERATOR, org, box, now)
    with pytest.raises(Conflict):
        aliro_groups.rotate(uow, OPERATOR, org, box, now)
    reader_key = Actor(ActorKind.API_KEY, "k", "k", org, "read_only")
    with pytest.raises(PermissionDenied):
        aliro_groups.promote(uow, reader_key, org, now)
    stranger = Actor(ActorKind.API_KEY, "k", "k", "org_other", "admin")
    with pytest.raises(PermissionDenied):
        aliro_groups.list_groups(uow, stranger, org)
    assert _states(world) == ["current", "next"]


def test_pairing_refuses_a_bad_aliro_key(client: TestClient, container: Container) -> None:
    world = World(client, container)
    code = world.pairing_code(world.reader)
    for bad in ("04" + "00" * 64, "zz" * 65):
        r = client.post(
            "/reader/v1/pair",
            json={"code": code, "public_key": _pem(), "aliro_public_key": bad},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "aliro_public_key"
    with pytest.raises(ValidationError):
        aliro_groups.parse_aliro_key(42)


def _pem() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    from passgate.proto import snapshot as snap

    return snap.public_pem(ec.generate_private_key(ec.SECP256R1()))
