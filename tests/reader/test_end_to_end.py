"""Tap to Unlock end to end: emulated iPhone -> reader agent -> real server over loopback.

Every revocation reaches the connected agent as a signed delta and the next tap is denied
with the reason R15 names (R10, R12 to R16, R19).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from tests.reader.support import Device, RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.proto.aliro import DeviceApplet
from passgate.proto.aliro.constants import INTERFACE_BLE
from passgate.proto.motionsense import AppEndpoint
from passgate.reader.agent import ReaderAgent
from passgate.reader.transport.ble import FramedLink
from passgate.reader.transport.emulated import EmulatedCard, EmulatedPhone


def _tap(agent: ReaderAgent, device: Device) -> str:
    result = agent.tap(EmulatedCard(device.applet))
    assert result is not None
    return result.decision.reason.value


def _reason_becomes(agent: ReaderAgent, device: Device, reason: str) -> None:
    # The next tap after the delta arrives: wait for the cache to change, then tap.
    wait_until(lambda: _tap(agent, device) == reason, f"tap denied with {reason}")


def test_revocations_reach_a_connected_reader(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            agent = ra.agent
            wait_until(lambda: agent.view is not None, "first snapshot")
            assert _tap(agent, world.device) == "granted"  # STANDARD
            result = agent.tap(EmulatedCard(world.device.applet))
            assert result is not None and result.flow == "fast" and result.decision.granted

            world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
            _reason_becomes(agent, world.device, "pass_suspended")
            world.update(m.ApplePass, world.pass_id, status=m.PassStatus.ACTIVE)
            _reason_becomes(agent, world.device, "granted")

            # R10: a new iPhone replaces the old one's key at once.
            world.update(m.PassDevice, world.device_row, status=m.DeviceStatus.REPLACED)
            _reason_becomes(agent, world.device, "device_replaced")
            world.update(m.PassDevice, world.device_row, status=m.DeviceStatus.ACTIVE)
            _reason_becomes(agent, world.device, "granted")

            r = client.delete(f"/api/v1/access_rights/{world.right}", headers=world.org.headers)
            assert r.status_code == 204, r.text
            _reason_becomes(agent, world.device, "no_access_right")
            world.right = world.org.post(
                "/access_rights", {"member_id": world.member, "group_id": world.group}
            )["id"]
            _reason_becomes(agent, world.device, "granted")

            # R3: eligibility lost (MFA no longer required) denies every pass at once.
            with container.uow_factory(world.org.id) as uow:
                org = uow.organizations.get(world.org.id)
                org.mfa_required = False
                uow.organizations.update(org)
            _reason_becomes(agent, world.device, "org_not_eligible")
            with container.uow_factory(world.org.id) as uow:
                org = uow.organizations.get(world.org.id)
                org.mfa_required = True
                uow.organizations.update(org)
            _reason_becomes(agent, world.device, "granted")

            # R12: the Bluetooth LE exchange with an Apple Pass credential.
            over_ble = DeviceApplet(
                world.device.key,
                reader_groups=world.trusted_groups(),
                persistent_keys={},
                interface=INTERFACE_BLE,
            )
            result = agent.ble_transaction(FramedLink(EmulatedPhone(AppEndpoint(over_ble))))
            assert result is not None and result.decision.reason.value == "unsupported_method"

            world.update(m.ApplePass, world.pass_id, status=m.PassStatus.DELETED)
            _reason_becomes(agent, world.device, "pass_deleted")

            # R15: every decision reaches the server exactly once, and the queue drains.
            wait_until(lambda: agent.store.event_count() == 0, "event queue drained")
            stored = world.stored_events(world.reader)
            sequences = [e.data["sequence"] for e in stored]
            assert len(sequences) == len(set(sequences))
            assert {e.reason for e in stored} >= {
                "granted",
                "pass_suspended",
                "device_replaced",
                "no_access_right",
                "org_not_eligible",
                "unsupported_method",
                "pass_deleted",
            }
            reader = client.get(f"/api/v1/readers/{world.reader}", headers=world.org.headers).json()
            assert reader["online"] is True
        finally:
            ra.stop()


def test_readers_that_may_not_take_apple_passes(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    old_model = world.add_reader("reader_pro_2_0", True)
    no_tamper = world.add_reader("reader_pro_2_1", False)
    with live_server(container) as server:
        agents = []
        try:
            for name, reader_id in (("old", old_model), ("nt", no_tamper)):
                ra = RunningAgent(str(tmp_path / f"{name}.db"))
                ra.pair(server, world.pairing_code(reader_id))
                ra.start()
                agents.append(ra)
                wait_until(lambda ra=ra: ra.agent.view is not None, "snapshot")  # type: ignore[misc]
                # R13: the reader holds no Apple Pass keys and still names the reason.
                assert ra.agent.view is not None and not ra.agent.view.credentials
            assert _tap(agents[0].agent, world.device) == "reader_unsupported"
            assert _tap(agents[1].agent, world.device) == "tamper_protection_off"
        finally:
            for ra in agents:
                ra.stop()


def test_tamper_halts_until_cleared_and_stale_cache_denies(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            agent = ra.agent
            wait_until(lambda: agent.view is not None, "first snapshot")
            assert _tap(agent, world.device) == "granted"
            agent.tamper()
            assert agent.store.persistent_keys() == [] and agent.store.get("aliro_key") is None
            for _ in range(3):
                assert _tap(agent, world.device) == "reader_tampered"
            wait_until(
                lambda: client.get(
                    f"/api/v1/readers/{world.reader}", headers=world.org.headers
                ).json()["tampered"],
                "server learns of the tamper",
            )
            assert _tap(agent, world.device) == "reader_tampered"
            assert any(e.type == "reader.tampered" for e in world.stored_events(world.reader))
            r = client.post(
                f"/api/v1/readers/{world.reader}/clear-tamper", headers=world.org.headers
            )
            assert r.status_code == 200, r.text
            _reason_becomes(agent, world.device, "granted")
        finally:
            ra.stop()
        # Offline: the agent is stopped; beyond the door's staleness limit it denies.
        offline = RunningAgent(str(tmp_path / "agent.db"))
        try:
            assert _tap(offline.agent, world.device) == "granted"
            offline.clock.offset = timedelta(hours=36, minutes=1)
            assert _tap(offline.agent, world.device) == "cache_stale"
        finally:
            offline.stop()
