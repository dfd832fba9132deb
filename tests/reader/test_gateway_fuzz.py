"""Garbage at the reader gateway, over real WebSockets to a live server.

Unauthenticated and authenticated peers send random bytes, wrong JSON types, oversized
frames, out-of-order and unknown messages and forged signatures. Each must get an error
message or a closed connection; the server must log no unhandled exception and keep a
well-behaved reader on another connection current (a suspend still reaches it).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.livesrv import serve
from tests.reader.support import RunningAgent, World, wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.proto import link
from passgate.proto import snapshot as snap
from passgate.reader.agent import ReaderAgent
from passgate.reader.store import AgentStore
from passgate.reader.sync import pair, ws_url
from passgate.reader.transport.emulated import EmulatedCard
from passgate.web.app import create_app

RNG = random.Random(20261127)
OVERSIZED = "x" * (snap.MAX_FRAME_BYTES + 1)

# Sent in place of the auth answer, before the server knows who is talking.
UNAUTHENTICATED: list[Any] = [
    RNG.randbytes(64),  # a binary frame
    RNG.randbytes(300).decode("latin-1"),  # text that is not JSON
    "[]",
    '{"type": 5}',
    '{"type": "auth"}',
    '{"type": "auth", "reader_id": 5, "signature": "x", "version": 0, "status": {}}',
    '{"type": "auth", "reader_id": "rdr_x", "signature": [], "version": 0, "status": {}}',
    '{"type": "auth", "reader_id": "rdr_x", "signature": "!!", "version": true, "status": {}}',
    '{"type": "events", "items": []}',  # out of order: events before auth
    '{"type": "ping"}',
    "[" * 100_000,  # deep nesting
    OVERSIZED,
]

# Sent after a successful authentication.
AUTHENTICATED: list[Any] = [
    RNG.randbytes(64),
    RNG.randbytes(300).decode("latin-1"),
    "null",
    '{"type": "nope"}',
    '{"type": "events", "items": "x"}',
    '{"type": "events", "items": [1, "a", null]}',
    '{"type": "events", "items": [{"sequence": -1}]}',
    '{"type": "events", "items": [{"sequence": 1, "kind": "access", "occurred_at": "2026-01-01"'
    ', "granted": true, "reason": "granted"}]}',  # no time zone
    json.dumps(
        {
            "type": "events",
            "items": [
                {
                    "sequence": 9,
                    "kind": "access",
                    "occurred_at": "2026-01-01T00:00:00+00:00",
                    "granted": False,
                    "reason": "unknown_credential",
                    "member_id": "mem_\u0000",
                    "method": "nfc\u0000",
                }
            ],
        }
    ),
    json.dumps({"type": "events", "items": [{"sequence": 1}] * 501}),
    '{"type": "status", "status": {"model": "no_such_reader", "firmware": 7}}',
    '{"type": "status", "status": {"firmware": "fw\\u0000"}}',
    '{"type": "status", "status": []}',
    '{"type": "resync", "reason": 1}',
    '{"type": "auth", "reader_id": "x", "signature": "x", "version": 0, "status": {}}',
    '{"type": "snapshot", "version": 1, "body": {}}',
    '{"type": "heartbeat", "version": 1}',
    OVERSIZED,
]


def _answer(ws: ClientConnection) -> str:
    """'error' when the server answered with an error message, 'closed' when it hung up."""
    try:
        while True:
            msg = json.loads(ws.recv(timeout=10))
            if msg.get("type") == "error":
                return "error"
            # Snapshots or heartbeats for an authenticated peer may come first.
    except ConnectionClosed:
        return "closed"


@contextmanager
def _no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.ERROR):
        yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


def _tap_reason(agent: ReaderAgent, world: World) -> str:
    result = agent.tap(EmulatedCard(world.device.applet))
    assert result is not None
    return result.decision.reason.value


def test_garbage_never_crashes_the_gateway(
    client: TestClient, container: Container, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(client, container)
    other = world.add_reader("reader_pro_2_1", True)
    with serve(create_app(container)) as server, _no_unhandled_errors(caplog):
        good = RunningAgent(str(tmp_path / "good.db"))
        good.pair(server, world.pairing_code(world.reader))
        good.start()
        try:
            wait_until(lambda: good.agent.view is not None, "first snapshot")
            url = ws_url(server)

            for payload in UNAUTHENTICATED:
                with connect(url, max_size=None) as ws:
                    assert json.loads(ws.recv(timeout=10))["type"] == "challenge"
                    ws.send(payload)
                    assert _answer(ws) in ("error", "closed")

            # A signature by the wrong key, and a valid one over a stale nonce.
            store = AgentStore(str(tmp_path / "fuzzer.db"))
            reader_id = pair(ReaderAgent(store), server, world.pairing_code(other))
            key = snap.load_private_pem(store.get("link_key").encode())
            store.close()
            forged = snap.load_private_pem(snap.private_pem(_new_key()))
            with connect(url) as ws:
                nonce = json.loads(ws.recv(timeout=10))["nonce"]
                ws.send(_auth(forged, reader_id, nonce))
                assert _answer(ws) in ("error", "closed")
            with connect(url) as ws:
                json.loads(ws.recv(timeout=10))
                ws.send(_auth(key, reader_id, "stale-nonce"))
                assert _answer(ws) in ("error", "closed")

            for payload in AUTHENTICATED:
                with connect(url, max_size=None) as ws:
                    nonce = json.loads(ws.recv(timeout=10))["nonce"]
                    ws.send(_auth(key, reader_id, nonce))
                    ws.send(payload)
                    assert _answer(ws) in ("error", "closed"), payload[:80]

            # Still serving: the well-behaved reader learns of a suspend, HTTP answers.
            world.update(m.ApplePass, world.pass_id, status=m.PassStatus.SUSPENDED)
            wait_until(
                lambda: _tap_reason(good.agent, world) == "pass_suspended", "suspend reached"
            )
            assert httpx.get(server + "/healthz", timeout=5).status_code == 200
            assert good.client.rejections == []
        finally:
            good.stop()


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _auth(key: Any, reader_id: str, nonce: str) -> str:
    return link.encode(
        {
            "type": "auth",
            "reader_id": reader_id,
            "signature": snap.sign(key, snap.auth_message(nonce, reader_id)),
            "version": 0,
            "status": {},
        }
    )
