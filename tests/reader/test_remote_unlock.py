"""Remote unlock at the reader agent, and end to end with a real server (R14, R15, R22).

Only a frame the server signed for this reader and this connection, unexpired and not
seen before on the connection, reaches the relay; the agent records a ``remote_unlock``
event durably before the relay acts and answers ``unlock_result``. Anything else gives no
pulse and no crash.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.reader.support import AgentClock, RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.proto import snapshot as snap
from passgate.proto import unlock
from passgate.reader.agent import ReaderAgent
from passgate.reader.relay import SimulatedRelay
from passgate.reader.store import AgentStore
from passgate.reader.sync import SyncClient

NONCE = "n" * 32
SERVER_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _content(*, lockdown: bool = False, door: str = "door_1") -> dict[str, Any]:
    return {
        "org": {"eligible": True},
        "door": {
            "id": door,
            "timezone": "UTC",
            "lockdown": lockdown,
            "staleness_limit_s": 3600,
            "schedule": None,
        },
        "reader": {
            "id": "rdr_1",
            "model": "reader_pro_2_1",
            "tamper_protection": True,
            "tampered": False,
            "tamper_seq": 0,
            "readiness": [],
        },
        "credentials": {},
        "members": {},
    }


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


class Bench:
    """An agent with a cache and its link handler, fed frames by hand."""

    def __init__(self, path: Path, *, content: dict[str, Any] | None = None) -> None:
        self.relay = SimulatedRelay()
        self.agent = ReaderAgent(AgentStore(str(path)), self.relay, clock=lambda: AT)
        self.agent.store.put({"reader_id": "rdr_1"})
        self.agent.apply(1, content or _content())
        self.client = SyncClient(self.agent)
        self.client._server_key = SERVER_KEY.public_key()
        self.state = snap.CacheState("rdr_1", SERVER_KEY.public_key(), link_nonce=NONCE)
        self.ws = Socket()

    def feed(self, frame: Any) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        asyncio.run(self.client._handle(self.ws, self.state, text))

    def events(self) -> list[dict[str, Any]]:
        return self.agent.store.pending_events()

    def close(self) -> None:
        self.agent.store.close()


def frame(
    *,
    key: ec.EllipticCurvePrivateKey = SERVER_KEY,
    reader_id: str = "rdr_1",
    door_id: str = "door_1",
    command_id: str = "cmd_1",
    expires: datetime = AT + timedelta(seconds=30),
    nonce: str = NONCE,
) -> dict[str, Any]:
    return unlock.make_unlock(
        key,
        reader_id=reader_id,
        door_id=door_id,
        command_id=command_id,
        expires_at_ms=int(expires.timestamp() * 1000),
        link_nonce=nonce,
    )


@pytest.fixture
def bench(tmp_path: Path) -> Any:
    b = Bench(tmp_path / "agent.db")
    yield b
    b.close()


def test_a_signed_command_pulses_once_records_the_event_and_answers(bench: Bench) -> None:
    bench.feed(frame())
    assert len(bench.relay.pulses) == 1
    assert bench.ws.sent == [
        {"type": "unlock_result", "command_id": "cmd_1", "ok": True, "reason": "granted"}
    ]
    [event] = bench.events()
    assert (event["kind"], event["granted"], event["reason"], event["command_id"]) == (
        "remote_unlock",
        True,
        "granted",
        "cmd_1",
    )
    bench.feed(frame())  # the same command again on this connection: a replay
    assert len(bench.relay.pulses) == 1 and len(bench.ws.sent) == 1
    assert bench.client.rejections == ["unlock_replayed"]


def _mutated(f: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**f, **changes}


BAD = "unlock_bad_signature"
FORGED = [
    ("signed by another key", lambda: frame(key=OTHER_KEY), BAD),
    ("for another reader", lambda: frame(reader_id="rdr_2"), "unlock_wrong_reader"),
    ("for another connection", lambda: frame(nonce="m" * 32), "unlock_replayed"),
    ("door changed after signing", lambda: _mutated(frame(), door_id="door_2"), BAD),
    ("expiry pushed after signing", lambda: _mutated(frame(), expires_at_ms=2**40), BAD),
    ("signature cut", lambda: _mutated(frame(), sig=frame()["sig"][:-4]), BAD),
    ("no signature", lambda: {k: v for k, v in frame().items() if k != "sig"}, "unlock_malformed"),
    ("command id a number", lambda: _mutated(frame(), command_id=7), "unlock_malformed"),
    ("command id too long", lambda: frame(command_id="c" * 41), "unlock_malformed"),
    ("expiry a float", lambda: _mutated(frame(), expires_at_ms=1.5), "unlock_malformed"),
    ("expiry a bool", lambda: _mutated(frame(), expires_at_ms=True), "unlock_malformed"),
    ("valid far too long", lambda: frame(expires=AT + timedelta(hours=1)), "unlock_lifetime"),
    ("not an object", lambda: '{"type": "unlock", "sig": ', "malformed"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "rejection"), FORGED, ids=[c[0] for c in FORGED])
def test_a_bad_or_forged_frame_gives_no_pulse_no_event_no_answer(
    bench: Bench, case: str, make: Any, rejection: str
) -> None:
    bench.feed(make())
    assert bench.relay.pulses == [] and bench.events() == [] and bench.ws.sent == []
    assert bench.client.rejections == [rejection]


def test_an_expired_command_is_answered_expired_without_pulse(bench: Bench) -> None:
    bench.feed(frame(expires=AT - timedelta(milliseconds=1)))
    assert bench.relay.pulses == [] and bench.events() == []
    assert bench.ws.sent == [
        {"type": "unlock_result", "command_id": "cmd_1", "ok": False, "reason": "expired"}
    ]


@pytest.mark.parametrize(
    ("content", "halted", "reason"),
    [
        (_content(lockdown=True), False, "door_lockdown"),
        (_content(door="door_9"), False, "wrong_door"),
        (_content(), True, "reader_tampered"),
    ],
)
def test_the_readers_own_state_refuses_and_records_why(
    tmp_path: Path, content: dict[str, Any], halted: bool, reason: str
) -> None:
    bench = Bench(tmp_path / "agent.db", content=content)
    try:
        if halted:
            bench.agent.tamper()
        bench.feed(frame())
        assert bench.relay.pulses == []
        assert bench.ws.sent[-1] == {
            "type": "unlock_result", "command_id": "cmd_1", "ok": False, "reason": reason,
        }  # fmt: skip
        last = bench.events()[-1]
        assert (last["kind"], last["granted"], last["reason"]) == ("remote_unlock", False, reason)
    finally:
        bench.close()


def test_a_stale_cache_refuses(tmp_path: Path) -> None:
    bench = Bench(tmp_path / "agent.db")
    try:
        bench.agent.synced_at = AT - timedelta(hours=2)  # the door's limit is one hour
        bench.feed(frame())
        assert bench.relay.pulses == [] and bench.ws.sent[-1]["reason"] == "cache_stale"
    finally:
        bench.close()


def test_a_relay_fault_is_reported_and_the_decision_stays_recorded(bench: Bench) -> None:
    bench.relay.fail = True
    bench.feed(frame())
    assert bench.ws.sent == [
        {"type": "unlock_result", "command_id": "cmd_1", "ok": False, "reason": "relay_fault"}
    ]
    assert [e["reason"] for e in bench.events()] == ["granted"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            ["reader_id", "door_id", "command_id", "expires_at_ms", "nonce", "sig", "x"]
        ),
        JSON,
        min_size=1,
    )
)
def test_any_change_to_a_signed_frame_gives_no_pulse_and_no_crash(
    bench: Bench, changes: dict[str, Any]
) -> None:
    good = frame(command_id="cmd_fuzz")
    forged = {**good, **changes}
    before = len(bench.relay.pulses)
    bench.client._unlocks.clear()
    bench.feed(forged)
    pulsed = len(bench.relay.pulses) - before
    assert pulsed == (1 if forged == good else 0)


# --- end to end: the API, the hub, a real agent over the reader link --------------------


def _agent_clock(container: Container) -> AgentClock:
    # The test server runs on a fixed clock; the agent's must agree (readers keep NTP time).
    agent_clock = AgentClock()
    agent_clock.offset = container.clock.now() - datetime.now(UTC)
    return agent_clock


@pytest.fixture
def world(client: TestClient, container: Container) -> World:
    return World(client, container)


def _state(client: TestClient, world: World, command_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/door_commands/{command_id}", headers=world.org.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_unlock_through_the_api_pulses_the_connected_readers_relay_and_stores_the_event(
    client: TestClient, container: Container, world: World, tmp_path: Path
) -> None:
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"), clock=_agent_clock(container))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            r = client.post(f"/api/v1/doors/{world.door}/unlock", headers=world.org.headers)
            assert r.status_code == 202, r.text
            command = r.json()
            assert (command["state"], command["reader_id"]) == ("pending", world.reader)
            wait_until(lambda: _state(client, world, command["id"])["state"] == "done", "done")
            assert _state(client, world, command["id"])["reason"] == "granted"
            relay = ra.agent.relay
            assert isinstance(relay, SimulatedRelay) and len(relay.pulses) == 1

            def stored() -> list[str]:
                return [
                    e.type
                    for e in world.stored_events(world.reader)
                    if e.data.get("command_id") == command["id"]
                ]

            wait_until(lambda: stored() == ["door.unlocked_remotely"], "the event stored")
            [event] = [
                e for e in world.stored_events(world.reader) if e.type == "door.unlocked_remotely"
            ]
            assert (event.granted, event.reason, event.door_id) == (True, "granted", world.door)
            wait_until(lambda: ra.agent.store.pending_events() == [], "the event acknowledged")

            # Lockdown: refused by the server, nothing is sent.
            r = client.patch(
                f"/api/v1/doors/{world.door}", json={"lockdown": True}, headers=world.org.headers
            )
            assert r.status_code == 200, r.text
            r = client.post(f"/api/v1/doors/{world.door}/unlock", headers=world.org.headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "door_lockdown"
            assert len(relay.pulses) == 1
        finally:
            ra.stop()
