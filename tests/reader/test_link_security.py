"""The reader link after a re-pair or a delete, and heartbeats that cannot be replayed.

The hub's safety-net poll is set to an hour here, so a connection that closes does so
because the change itself woke the gateway, not because a timer came round.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.reader.support import World, live_server
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from passgate.bootstrap import Container
from passgate.config import Settings
from passgate.proto import link
from passgate.proto import snapshot as snap
from passgate.reader.sync import ws_url


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:  # backend: both databases
    # A poll past what an operator may set (5 s): no pass in these tests comes from the
    # timer. Heartbeats go out at every pass.
    return settings.model_copy(
        update={"reader_poll_interval_s": 3600.0, "reader_heartbeat_s": 0.01}
    )


class Peer:
    """A reader identity made by hand: a link key and a paired reader id."""

    def __init__(self, server: str, code: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        aliro = ec.generate_private_key(ec.SECP256R1()).public_key()
        point = aliro.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        r = httpx.post(
            f"{server}/reader/v1/pair",
            json={
                "code": code,
                "public_key": snap.public_pem(self.key),
                "aliro_public_key": point.hex(),
            },
            timeout=10,
        )
        assert r.status_code == 200, r.text
        self.server = server
        self.reader_id: str = r.json()["reader_id"]
        self.server_key = snap.load_public_pem(r.json()["server_public_key"])

    @contextmanager
    def connected(self, server: str, nonce: str) -> Iterator[ClientConnection]:
        with connect(ws_url(server)) as ws:
            challenge = json.loads(ws.recv(timeout=10))
            signature = snap.sign(self.key, snap.auth_message(challenge["nonce"], self.reader_id))
            ws.send(
                link.encode(
                    {
                        "type": "auth",
                        "reader_id": self.reader_id,
                        "reader_nonce": nonce,
                        "signature": signature,
                        "version": 0,
                        "status": {},
                    }
                )
            )
            yield ws


def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = json.loads(ws.recv(timeout=15))
        if msg["type"] == kind:
            return msg


def _closed(ws: ClientConnection) -> int | None:
    """The close code once the server hung up (messages before it are skipped)."""
    try:
        while True:
            ws.recv(timeout=15)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


NONCE = "n" * 32


@dataclass
class Linked:
    world: World
    peer: Peer
    ws: ClientConnection
    snapshot: dict[str, Any]


@contextmanager
def _linked(client: TestClient, container: Container) -> Iterator[Linked]:
    """A paired reader connected with NONCE, past its first snapshot."""
    world = World(client, container)
    with live_server(container) as server:
        peer = Peer(server, world.pairing_code(world.reader))
        with peer.connected(server, NONCE) as ws:
            yield Linked(world, peer, ws, _next(ws, "snapshot"))


def test_pairing_again_closes_the_old_connection_at_once(
    client: TestClient, container: Container
) -> None:
    with _linked(client, container) as link:
        assert link.snapshot["nonce"] == NONCE
        # Someone pairs the reader again (a new key): the old key's link must end.
        Peer(link.peer.server, link.world.pairing_code(link.world.reader))
        assert _closed(link.ws) == 4403


def test_deleting_a_reader_closes_its_connection_at_once(
    client: TestClient, container: Container
) -> None:
    with _linked(client, container) as link:
        world = link.world
        r = client.delete(f"/api/v1/readers/{world.reader}", headers=world.org.headers)
        assert r.status_code == 204, r.text
        assert _closed(link.ws) == 4403


def test_a_recorded_heartbeat_confirms_nothing_later(
    client: TestClient, container: Container
) -> None:
    with _linked(client, container) as link:
        beats = []
        for _ in range(2):
            link.world.org.post("/places", {"name": "nudge"})  # any commit runs a pass
            beats.append(_next(link.ws, "heartbeat"))
    peer, snapshot = link.peer, link.snapshot
    first, second = beats[0], beats[1]
    assert first["nonce"] == NONCE and second["seq"] > first["seq"]
    assert second["at"] >= first["at"]

    live = snap.CacheState(peer.reader_id, peer.server_key, link_nonce=NONCE)
    assert isinstance(live.receive(snapshot), snap.Accepted)
    assert live.confirms(first) and live.confirms(second)
    assert not live.confirms(first) and not live.confirms(second)  # replayed on the same link
    later = snap.CacheState(peer.reader_id, peer.server_key, link_nonce="m" * 32)
    assert later.receive(snapshot) == snap.Rejected("replayed")  # a frame of another link
    later.version = snapshot["version"]
    assert not later.confirms(first)  # a recorded heartbeat on a new connection
