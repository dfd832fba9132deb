"""The reader change log: written by the writes themselves, in order, pruned past a horizon;
the hub follows it (a change costs the rows it names) and serves reconnects from it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.reader.support import RunningAgent, World, live_server, wait_until

from passgate.adapters.db import change_log
from passgate.bootstrap import Container, build_container
from passgate.domain import model as m
from passgate.proto import link
from passgate.proto import snapshot as snap
from passgate.proto.aliro import crypto
from passgate.services.actors import Actor, ActorKind
from passgate.services.readers import door_commands, reader_state


@pytest.fixture
def backend(backend: str) -> str:  # both databases
    return backend


def _entries(container: Container, org_id: str, after: int = 0) -> list[tuple[int, str, str]]:
    with container.uow_factory(org_id, write=False) as uow:
        head = uow.reader_changes.heads([org_id]).get(org_id, (0, 0))[0]
        return uow.reader_changes.after(org_id, after, head)


def _head(container: Container, org_id: str) -> tuple[int, int]:
    with container.uow_factory(org_id, write=False) as uow:
        return uow.reader_changes.heads([org_id]).get(org_id, (0, 0))


def _add_keys(world: World, count: int) -> list[str]:
    now = world.container.clock.now()
    out = []
    with world.container.uow_factory(world.org.id) as uow:
        for _ in range(count):
            public = crypto.public_bytes(ec.generate_private_key(ec.SECP256R1()))
            key_id = hashlib.sha256(public).hexdigest()
            uow.repo(m.PassDevice).add(
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
            out.append(key_id)
    return out


def test_each_write_readers_need_appends_one_sequence_number_and_others_none(
    client: TestClient, container: Container
) -> None:
    world = World(client, container)
    seq, _ = _head(container, world.org.id)
    assert seq > 0  # setting the world up (doors, readers, members, the pass) was logged

    world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
    entries = _entries(container, world.org.id, seq)
    assert {(k, o) for _, k, o in entries} == {("pass", world.pass_id), ("member", world.member)}
    assert {s for s, _, _ in entries} == {seq + 1}  # one transaction, one sequence number

    # A reader's last seen and a pass's last use are nothing a reader's cache holds.
    now = container.clock.now()
    with container.uow_factory(world.org.id) as uow:
        uow.repo(m.Reader).advance("last_seen_at", now, id=world.reader)
        uow.repo(m.ApplePass).advance("last_used_at", now, id=world.pass_id)
    assert _head(container, world.org.id)[0] == seq + 1

    # A failed transaction leaves no entry.
    with pytest.raises(RuntimeError), container.uow_factory(world.org.id) as uow:
        door = uow.repo(m.Door).get(world.door)
        door.lockdown = True
        uow.repo(m.Door).update(door)
        raise RuntimeError("boom")
    assert _head(container, world.org.id)[0] == seq + 1

    # A lockdown, a device deletion (named by its key id), a group's doors (the API).
    world.update(m.Door, world.door, lockdown=True)
    with container.uow_factory(world.org.id) as uow:
        uow.repo(m.PassDevice).delete(world.device_row)
    r = client.put(
        f"/api/v1/groups/{world.group}/doors", json={"door_ids": []}, headers=world.org.headers
    )
    assert r.status_code == 200, r.text
    later = {(k, o) for _, k, o in _entries(container, world.org.id, seq + 1)}
    assert ("door", world.door) in later
    assert ("credential", world.device.key_id) in later
    assert ("group", world.group) in later
    seqs = [s for s, _, _ in _entries(container, world.org.id)]
    assert seqs == sorted(seqs)


def test_a_new_door_command_notes_its_reader_and_its_later_states_note_nothing(
    client: TestClient, container: Container
) -> None:
    world = World(client, container)
    now = container.clock.now()
    with container.uow_factory(world.org.id) as uow:
        reader = uow.repo(m.Reader).get(world.reader)
        reader.online, reader.last_seen_at = True, now
        uow.repo(m.Reader).update(reader)
    seq, _ = _head(container, world.org.id)
    cmd = container.door_commands.request_unlock(_admin(world), world.door)
    # A kind of its own: the hub sends the command and resends no cache content for it.
    assert [(k, o) for _, k, o in _entries(container, world.org.id, seq)] == [
        (door_commands.NOTE, world.reader)
    ]
    assert reader_state.OrgState(world.org.id).expand([(door_commands.NOTE, world.reader)]) == (
        reader_state.Affected()
    )
    head = _head(container, world.org.id)[0]
    assert dc_claim(container, world, now) == [cmd.id]  # pending -> sent
    with container.uow_factory(world.org.id) as uow:
        uow.repo(door_commands.DoorCommand).delete(cmd.id)
    assert _head(container, world.org.id)[0] == head


def _admin(world: World) -> Actor:
    return Actor(kind=ActorKind.API_KEY, id="key_t", name="t", org_id=world.org.id, role="admin")


def dc_claim(container: Container, world: World, now: Any) -> list[str]:
    claimed = door_commands.claim(container.uow_factory, world.org.id, [world.reader], now)
    return [c.id for c in claimed]


def test_the_log_keeps_the_last_entries_and_records_its_horizon(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(client, container)
    factory: Any = container.uow_factory
    monkeypatch.setattr(factory, "log_keep_entries", 5)
    monkeypatch.setattr(factory, "log_keep_s", 0.0)  # age keeps nothing here
    for i in range(change_log.PRUNE_EVERY + 1):
        world.update(
            m.ApplePass,
            world.pass_id,
            status=m.PassStatus.SUSPENDED if i % 2 == 0 else m.PassStatus.ACTIVE,
        )
    head, pruned_to = _head(container, world.org.id)
    assert pruned_to > 0 and head - pruned_to <= 5 + change_log.PRUNE_EVERY
    left = {s for s, _, _ in _entries(container, world.org.id)}
    assert min(left) == pruned_to + 1 and max(left) == head

    # Young entries are kept whatever their number.
    monkeypatch.setattr(factory, "log_keep_s", 3600.0)
    for i in range(change_log.PRUNE_EVERY):
        world.update(
            m.ApplePass,
            world.pass_id,
            status=m.PassStatus.SUSPENDED if i % 2 == 0 else m.PassStatus.ACTIVE,
        )
    assert _head(container, world.org.id)[1] == pruned_to


def _loaded_for_one_suspension(world: World) -> int:
    c = world.container
    state = reader_state.OrgState(world.org.id)
    with c.uow_factory(world.org.id, write=False) as uow:
        head = uow.reader_changes.heads([world.org.id])[world.org.id][0]
        state.load(uow, head, c.clock.now())
    view = state.view(world.reader)
    assert view is not None
    before = state.rows_loaded
    world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
    with c.uow_factory(world.org.id, write=False) as uow:
        new_head = uow.reader_changes.heads([world.org.id])[world.org.id][0]
        entries = uow.reader_changes.after(world.org.id, head, new_head)
        state.begin_pass()
        state.apply(uow, new_head, [(k, o) for _, k, o in entries], c.clock.now())
    status = view.credentials.rows[world.device.key_id]["status"]
    assert status == "suspended" and world.device.key_id in view.credentials.changed
    # The shared section's digest share followed the change row by row.
    assert view.credentials.share() == snap.section_hash("credentials", view.credentials.rows)
    assert view.digest() == snap.digest(view.content())
    world.update(m.ApplePass, world.pass_id, status=m.PassStatus.ACTIVE)
    return state.rows_loaded - before


def test_a_change_loads_the_rows_it_names_whatever_the_number_of_credentials(
    client: TestClient, container: Container
) -> None:
    world = World(client, container)
    small = _loaded_for_one_suspension(world)
    _add_keys(world, 300)
    large = _loaded_for_one_suspension(world)
    # A pass with more devices reloads the pass (1 row): a suspension names the pass, and
    # its keys' rows come from memory; the member and its rights are a few rows more.
    assert small == large and small <= 5


def _spy(ra: RunningAgent, frames: list[str]) -> None:
    original = ra.client._handle

    async def spy(ws: Any, state: snap.CacheState, text: Any) -> None:
        frames.append(link.decode(text).type)
        await original(ws, state, text)

    ra.client._handle = spy  # type: ignore[method-assign]


def _stored_status(path: Path, key_id: str) -> str:
    db = sqlite3.connect(path)
    try:
        row = db.execute(
            "SELECT v FROM cache_rows WHERE section = 'credentials' AND k = ?", (key_id,)
        ).fetchone()
        return str(row[0])
    finally:
        db.close()


def _applied(container: Container, reader_id: str) -> int:
    with container.uow_factory(None, write=False) as uow:
        found = uow.reader_changes.applied(_org_of(container, reader_id)).get(reader_id)
    return 0 if found is None else found[0]


def _org_of(container: Container, reader_id: str) -> str:
    org = container.reader_directory.org_of_reader(reader_id)
    assert org is not None
    return org


def test_a_reader_back_within_the_horizon_gets_a_delta_and_past_it_a_snapshot(
    client: TestClient, container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(client, container)
    _add_keys(world, 50)
    path = tmp_path / "agent.db"
    with live_server(container) as server:
        ra = RunningAgent(str(path))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        wait_until(lambda: ra.agent.view is not None, "first snapshot")
        version = ra.agent.version
        assert reader_state.seq_of(version) == _head(container, world.org.id)[0]
        wait_until(lambda: _applied(container, world.reader) == version, "the applied ack")
        ra.stop()

        # Offline: a suspension. Back: one delta, no snapshot.
        world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
        frames: list[str] = []
        ra = RunningAgent(str(path))
        _spy(ra, frames)
        ra.start()
        try:
            wait_until(
                lambda: '"suspended"' in _stored_status(path, world.device.key_id),
                "the suspension after the reconnect",
            )
            assert frames.count("snapshot") == 0 and frames.count("delta") == 1
            assert ra.client.rejections == []
            assert reader_state.seq_of(ra.agent.version) == _head(container, world.org.id)[0]
            version = ra.agent.version
            wait_until(lambda: _applied(container, world.reader) == version, "the applied ack")
        finally:
            ra.stop()

        # Offline past the horizon: the log no longer has what it missed.
        factory: Any = container.uow_factory
        monkeypatch.setattr(factory, "log_keep_entries", 1)
        monkeypatch.setattr(factory, "log_keep_s", 0.0)
        for i in range(change_log.PRUNE_EVERY + 1):
            world.update(
                m.ApplePass,
                world.pass_id,
                status=m.PassStatus.ACTIVE if i % 2 == 0 else m.PassStatus.SUSPENDED,
            )
        assert _head(container, world.org.id)[1] > reader_state.seq_of(version)  # type: ignore[operator]
        frames = []
        ra = RunningAgent(str(path))
        _spy(ra, frames)
        ra.start()
        try:
            wait_until(
                lambda: '"active"' in _stored_status(path, world.device.key_id),
                "the full resync",
            )
            assert frames.count("snapshot") == 1 and frames.count("delta") == 0
            assert ra.client.rejections == []
        finally:
            ra.stop()


def test_a_reader_ahead_of_its_last_recorded_ack_resumes_with_a_delta_not_a_snapshot(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    """Agents report their version at most every couple of seconds and the hub writes the
    reports once a second, so a reader can come back holding a later version than the
    one recorded (its report was never sent, or died with a server process). It gets one
    delta counted from the recorded version, which leads to the current cache from its
    own version too, and no snapshot."""
    world = World(client, container)
    _add_keys(world, 20)
    path = tmp_path / "agent.db"
    with live_server(container) as server:
        ra = RunningAgent(str(path))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        wait_until(lambda: ra.agent.view is not None, "first snapshot")
        recorded = ra.agent.version
        wait_until(lambda: _applied(container, world.reader) == recorded, "the applied ack")
        ra.stop()

        # A connection whose report never goes out: it applies a suspension unreported.
        ra = RunningAgent(str(path))
        ra.client.ack_delay_s = 3600.0
        ra.start()
        try:
            # Before or after its reconnect, the suspension reaches it as a delta.
            world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
            wait_until(
                lambda: '"suspended"' in _stored_status(path, world.device.key_id),
                "the suspension",
            )
            ahead = ra.agent.version
        finally:
            ra.stop()
        assert ahead > recorded and _applied(container, world.reader) == recorded

        # Offline, the pass is resumed; back, the reader says the version it holds.
        world.update(m.ApplePass, world.pass_id, status=m.PassStatus.ACTIVE)
        frames: list[str] = []
        ra = RunningAgent(str(path))
        _spy(ra, frames)
        ra.start()
        try:
            wait_until(
                lambda: '"active"' in _stored_status(path, world.device.key_id),
                "the resumption after the reconnect",
            )
            assert frames.count("snapshot") == 0 and frames.count("delta") == 1
            assert ra.client.rejections == []
            assert reader_state.seq_of(ra.agent.version) == _head(container, world.org.id)[0]
            assert ra.agent.content is not None
            wait_until(
                lambda: _applied(container, world.reader) == ra.agent.version, "the applied ack"
            )
        finally:
            ra.stop()


def test_an_applied_ack_is_recorded_only_for_a_version_this_connection_sent(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            version = ra.agent.version
            wait_until(lambda: _applied(container, world.reader) == version, "the applied ack")
            engine: sa.Engine = container.engine
            with engine.connect() as conn:
                row = conn.execute(
                    sa.select(change_log.reader_sync).where(
                        change_log.reader_sync.c.reader_id == world.reader
                    )
                ).one()
            assert ra.agent.content is not None
            assert row.applied_digest == snap.digest(ra.agent.content)
        finally:
            ra.stop()


def _holds(ra: RunningAgent, key_id: str, status: str) -> bool:
    view = ra.agent.view
    return view is not None and view.credentials[key_id].view.status.value == status


def test_readers_in_the_same_state_share_one_signature_per_change(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    second = world.add_reader("reader_pro_2_1", True)
    seen: dict[str, list[link.Message | link.Signed]] = {world.reader: [], second: []}
    agents = []
    with live_server(container) as server:
        for reader_id in (world.reader, second):
            ra = RunningAgent(str(tmp_path / f"{reader_id}.db"))
            ra.pair(server, world.pairing_code(reader_id))
            original = ra.client._handle

            async def spy(
                ws: Any, state: snap.CacheState, text: Any, _o: Any = original, _r: str = reader_id
            ) -> None:
                seen[_r].append(link.decode(text))
                await _o(ws, state, text)

            ra.client._handle = spy  # type: ignore[method-assign]
            ra.start()
            agents.append(ra)
        try:
            for ra in agents:
                wait_until(partial(_holds, ra, world.device.key_id, "active"), "first snapshot")
            # Readers that connected at different times hold different versions (a change
            # that touches one reader only moves that one): the first change brings both to
            # the organization's sequence number, and from then on they share.
            for status in (m.PassStatus.SUSPENDED, m.PassStatus.ACTIVE):
                world.update(m.ApplePass, world.pass_id, status=status)
                for ra in agents:
                    wait_until(
                        partial(_holds, ra, world.device.key_id, status.value),
                        f"the pass {status.value} at the reader",
                    )
            shared = {
                r: [
                    f.frame
                    for f in frames
                    if isinstance(f, link.Signed) and f.type == "shared_delta"
                ]
                for r, frames in seen.items()
            }
            assert all(len(frames) == 2 for frames in shared.values()), shared
            first, other = shared[world.reader][-1], shared[second][-1]
            assert first["sig"] == other["sig"] and first["statement"] == other["statement"]
            assert first["reader_id"] == world.reader and other["reader_id"] == second
            assert all(ra.client.rejections == [] for ra in agents)
        finally:
            for ra in agents:
                ra.stop()


def test_a_change_committed_by_another_process_reaches_the_reader_through_the_poll(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    world = World(client, container)
    other = build_container(container.settings)  # its own engine: no wake-up reaches the hub
    try:
        with live_server(container) as server:
            ra = RunningAgent(str(tmp_path / "agent.db"))
            ra.pair(server, world.pairing_code(world.reader))
            ra.start()
            try:
                wait_until(partial(_holds, ra, world.device.key_id, "active"), "first snapshot")
                with other.uow_factory(world.org.id) as uow:
                    found = uow.repo(m.ApplePass).get(world.pass_id)
                    found.status = m.PassStatus.SUSPENDED
                    uow.repo(m.ApplePass).update(found)
                wait_until(
                    partial(_holds, ra, world.device.key_id, "suspended"), "the polled change"
                )
                assert reader_state.seq_of(ra.agent.version) == _head(container, world.org.id)[0]
            finally:
                ra.stop()
    finally:
        other.close()
