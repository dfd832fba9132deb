"""Incremental reader sync: snapshots in parts, deltas applied to rows, no work when idle.

A cache too large for one frame still syncs (in signed parts); a revocation afterwards
travels as a delta that changes the agent's stored rows, not the whole document; and a
connected reader costs the server no database work while nothing changes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.reader.support import RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.config import Settings
from passgate.domain import model as m
from passgate.proto import link
from passgate.proto import snapshot as snap
from passgate.proto.aliro import crypto
from passgate.reader.agent import ReaderAgent
from passgate.reader.store import AgentStore
from passgate.services.readers import reader_state

CREDENTIALS = 4500  # three snapshot parts of 2,000 rows


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:  # backend: both databases
    # Heartbeats often, so an idle period shows them; the poll only matters where other
    # processes' commits cannot wake the gateway.
    return settings.model_copy(update={"reader_heartbeat_s": 0.05})


def _many_keys(world: World, count: int) -> list[str]:
    """``count`` more iPhone keys on the world's pass (one per device row)."""
    now = world.container.clock.now()
    key_ids = []
    with world.container.uow_factory(world.org.id) as uow:
        devices = uow.repo(m.PassDevice)
        for _ in range(count):
            public = crypto.public_bytes(ec.generate_private_key(ec.SECP256R1()))
            key_id = hashlib.sha256(public).hexdigest()
            devices.add(
                m.PassDevice(
                    id=m.new_id("pdev"),
                    org_id=world.org.id,
                    pass_id=world.pass_id,
                    kind=m.DeviceKind.IPHONE,
                    device_id=m.new_id("dev"),
                    model="iPhone16,1",
                    os_version="18.0",
                    app_version="46.0",
                    public_key=public.hex(),
                    key_id=key_id,
                    status=m.DeviceStatus.ACTIVE,
                    added_at=now,
                )
            )
            key_ids.append(key_id)
    return key_ids


def _stored_status(path: Path, key_id: str) -> Any:
    db = sqlite3.connect(path)
    try:
        row = db.execute(
            "SELECT v FROM cache_rows WHERE section = 'credentials' AND k = ?", (key_id,)
        ).fetchone()
        count = db.execute("SELECT count(*) FROM cache_rows WHERE section = 'credentials'")
        return (None if row is None else row[0], count.fetchone()[0])
    finally:
        db.close()


def test_a_cache_in_parts_syncs_and_a_revocation_changes_only_its_rows(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    keys = _many_keys(world, CREDENTIALS)
    path = tmp_path / "agent.db"
    frames: list[str] = []
    with live_server(container) as server:
        ra = RunningAgent(str(path))
        ra.pair(server, world.pairing_code(world.reader))
        original = ra.client._handle

        async def spy(ws: Any, state: snap.CacheState, text: Any) -> None:
            frames.append(link.decode(text).type)
            await original(ws, state, text)

        ra.client._handle = spy  # type: ignore[method-assign]
        ra.start()
        try:
            agent = ra.agent
            wait_until(lambda: agent.view is not None, "snapshot in parts", 60)
            assert agent.view is not None and len(agent.view.credentials) == CREDENTIALS + 1
            assert frames.count("snapshot") == 1 and frames.count("snapshot_part") == 2
            assert ra.client.rejections == []
            rows_before = agent.view.credentials

            world.update(m.PassDevice, world.device_row, status=m.DeviceStatus.REVOKED)
            wait_until(
                lambda: (
                    agent.view is not None
                    and agent.view.credentials[world.device.key_id].view.status.value == "deleted"
                ),
                "the revocation as a delta",
                60,
            )
            deltas = frames.count("delta") + frames.count("shared_delta")
            assert deltas >= 1 and frames.count("snapshot") == 1
            assert agent.view.credentials is rows_before  # rows updated in place
            version = agent.version
        finally:
            ra.stop()
    stored, count = _stored_status(path, world.device.key_id)
    assert '"deleted"' in stored and count == CREDENTIALS + 1
    # Restarted from its SQLite file, the agent decides from the same rows.
    again = ReaderAgent(AgentStore(str(path)))
    try:
        assert again.version == version and again.view is not None
        assert again.view.credentials[world.device.key_id].view.status.value == "deleted"
        assert again.view.credentials[keys[0]].view.status.value == "active"
    finally:
        again.store.close()


def test_nothing_changing_rebuilds_nothing_and_a_change_still_wakes_the_hub(
    client: TestClient,
    container: Container,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
) -> None:
    world = World(client, container)
    builds: list[float] = []
    real_load, real_apply = reader_state.OrgState.load, reader_state.OrgState.apply

    def load(self: reader_state.OrgState, *args: Any) -> None:
        builds.append(time.monotonic())
        real_load(self, *args)

    def apply(self: reader_state.OrgState, *args: Any) -> reader_state.Affected:
        builds.append(time.monotonic())
        return real_apply(self, *args)

    monkeypatch.setattr(reader_state.OrgState, "load", load)
    monkeypatch.setattr(reader_state.OrgState, "apply", apply)
    # Heartbeats often: a reader's last seen moves, which is no change readers need, so
    # the change log (which the hub polls) stays still.
    idle = container.settings.model_copy(update={"reader_heartbeat_s": 0.1})
    monkeypatch.setattr(container, "settings", idle)
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            # The pairing's own commits are in the log: one pass builds past them.
            time.sleep(4 * idle.reader_poll_interval_s)
            settled = len(builds)
            time.sleep(10 * idle.reader_poll_interval_s)
            assert len(builds) == settled  # ten idle polls, no rebuild
            # A change still wakes the gateway at once.
            world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
            wait_until(
                lambda: (
                    ra.agent.view is not None
                    and ra.agent.view.credentials[world.device.key_id].view.status.value
                    == "suspended"
                ),
                "the suspension",
            )
            assert len(builds) > settled
        finally:
            ra.stop()
