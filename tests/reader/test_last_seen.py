"""At the gateway: what a connected reader sends moves its "last seen" on the server.

The dashboard says a reader is offline when it was not heard from within
``reader_offline_after_s``; the agent answers every heartbeat it takes with a ping, and
the gateway writes the last seen (at most once per half heartbeat). The server runs on the
test's clock here, moved an hour on while the reader stays connected, so only a write
made after the move can show the later time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FixedClock
from tests.reader.support import RunningAgent, World, live_server, wait_until
from tests.reader.test_link_security import NONCE, Peer, _next

from passgate.bootstrap import Container
from passgate.config import Settings
from passgate.domain import model as m
from passgate.proto import link


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:  # backend: both databases
    return settings.model_copy(update={"reader_heartbeat_s": 0.05})


def _last_seen(container: Container, world: World, reader_id: str) -> datetime | None:
    with container.uow_factory(world.org.id, write=False) as uow:
        return uow.repo(m.Reader).get(reader_id).last_seen_at


def test_a_ping_from_the_reader_moves_its_last_seen(
    client: TestClient, container: Container, clock: FixedClock
) -> None:
    world = World(client, container)
    with live_server(container) as server:
        peer = Peer(server, world.pairing_code(world.reader))
        with peer.connected(server, NONCE) as ws:
            _next(ws, "snapshot")
            connected = _last_seen(container, world, world.reader)
            assert connected is not None
            clock.advance(hours=1)
            later = clock.current
            # Nothing said yet: the connection alone does not move it.
            assert _last_seen(container, world, world.reader) == connected
            for _ in range(3):  # a ping within half a heartbeat of the last write may be skipped
                ws.send(link.encode({"type": "ping"}))
                _next(ws, "heartbeat")
            wait_until(
                lambda: (_last_seen(container, world, world.reader) or connected) >= later,
                "last seen moved by the ping",
            )
        # After the hang-up the reader is offline, its last seen kept.
        wait_until(lambda: not _reader(container, world).online, "offline after the disconnect")
        assert (_last_seen(container, world, world.reader) or connected) >= later


def _reader(container: Container, world: World) -> m.Reader:
    with container.uow_factory(world.org.id, write=False) as uow:
        return uow.repo(m.Reader).get(world.reader)


def test_the_agents_answers_to_heartbeats_keep_its_last_seen_current(
    client: TestClient, container: Container, clock: FixedClock, tmp_path: Path
) -> None:
    world = World(client, container)
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            for step in range(2):  # each hour on, the next heartbeats' answers catch up
                clock.advance(hours=1)
                later = clock.current

                def caught_up(later: datetime = later) -> bool:
                    seen = _last_seen(container, world, world.reader)
                    return seen is not None and seen >= later

                wait_until(caught_up, f"last seen moved by the heartbeat answers ({step})")
            reader = _reader(container, world)
            assert reader.online
        finally:
            ra.stop()


def test_a_batch_of_readers_last_seen_moves_in_one_statement_only_forward(
    client: TestClient, container: Container, clock: FixedClock
) -> None:
    """The gateway writes the readers heard from within a second as one batch (an array
    parameter on PostgreSQL, an IN list on SQLite); a later time than a reader's own
    is never moved back."""
    from passgate.services.readers import reader_events

    world = World(client, container)
    others = [world.add_reader("reader_pro_2_1", True) for _ in range(3)]
    early, late = clock.current, clock.current.replace(year=clock.current.year + 1)
    with container.uow_factory(world.org.id) as uow:
        reader_events.touch_seen(uow, [others[0]], late)
    with container.uow_factory(world.org.id) as uow:
        reader_events.touch_seen(uow, [world.reader, *others], early)
    assert [_last_seen(container, world, r) for r in (world.reader, *others)] == [
        early,
        late,
        early,
        early,
    ]
