"""MotionSense at the agent (R12, R15, R27): the app credential over a framed BLE link.

No server: the agent is paired by hand (its Aliro key certified by a test reader group)
and given cache content with a ``mobile_app`` credential and an Apple Pass.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto import motionsense as ms
from passgate.proto import snapshot as snap
from passgate.proto.aliro import DeviceApplet, crypto, issue
from passgate.proto.aliro import constants as c
from passgate.reader.agent import CardGone, ReaderAgent
from passgate.reader.relay import SimulatedRelay
from passgate.reader.store import AgentStore
from passgate.reader.transport.ble import FramedLink
from passgate.reader.transport.emulated import EmulatedPhone

P256 = ec.SECP256R1()
GROUP_ID = bytes(range(16))
GROUP_KEY = ec.generate_private_key(P256)
GROUP_PUBLIC = crypto.public_bytes(GROUP_KEY)


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()


class Phone:
    """The Passgate app: its own key, trusting the reader groups of its registration."""

    def __init__(self, *, interface: int = c.INTERFACE_BLE) -> None:
        self.key = ec.generate_private_key(P256)
        self.public = crypto.public_bytes(self.key)
        self.persistent: dict[bytes, bytes] = {}
        self.interface = interface
        self.endpoint: ms.AppEndpoint | None = None
        self.applet: DeviceApplet | None = None

    def link(self) -> FramedLink:
        self.applet = DeviceApplet(
            self.key,
            reader_groups={GROUP_ID: GROUP_PUBLIC},
            persistent_keys=self.persistent,
            interface=self.interface,
        )
        self.endpoint = ms.AppEndpoint(self.applet)
        return FramedLink(EmulatedPhone(self.endpoint))


def content(credentials: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "org": {"eligible": True},
        "door": {
            "id": "door_1",
            "timezone": "Europe/Berlin",
            "lockdown": False,
            "staleness_limit_s": 129600,
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
        "credentials": credentials,
        "members": {
            "mem_1": {"active": True, "grants": [{"from": None, "until": None, "schedule": None}]}
        },
    }


def app_credential(public: bytes, status: str = "active") -> dict[str, Any]:
    return {
        "public_key": public.hex(),
        "kind": "mobile_app",
        "status": status,
        "member_id": "mem_1",
        "pass_id": None,
        "app_credential_id": "acr_x",
    }


def apple_pass(public: bytes) -> dict[str, Any]:
    return {
        "public_key": public.hex(),
        "kind": "apple_pass",
        "status": "active",
        "member_id": "mem_1",
        "pass_id": "pass_1",
    }


def paired_agent(path: Path, cache: dict[str, Any]) -> tuple[ReaderAgent, SimulatedRelay]:
    store = AgentStore(str(path / "agent.db"))
    relay = SimulatedRelay()
    agent = ReaderAgent(store, relay)
    aliro_key = ec.generate_private_key(P256)
    store.put({"reader_id": "rdr_1", "aliro_key": snap.private_pem(aliro_key).decode()})
    now = datetime.now(UTC)
    certificate = issue(
        GROUP_KEY,
        serial=1,
        issuer=GROUP_ID.hex(),
        subject="rdr_1",
        public_key=crypto.public_bytes(aliro_key),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=1),
    ).encode()
    agent.install_certificate(
        group_identifier=GROUP_ID.hex(),
        group_public_key=GROUP_PUBLIC.hex(),
        certificate=certificate.hex(),
    )
    agent.apply(1, cache)
    return agent, relay


@pytest.fixture
def phone() -> Phone:
    return Phone()


def events(agent: ReaderAgent) -> list[dict[str, Any]]:
    return agent.store.pending_events(limit=1000)


def test_a_wave_with_a_right_opens_standard_then_fast(tmp_path: Path, phone: Phone) -> None:
    agent, relay = paired_agent(
        tmp_path, content({key_id(phone.public): app_credential(phone.public)})
    )
    first = agent.ble_transaction(phone.link())
    assert first is not None and first.decision.granted and first.flow == "standard"
    assert phone.applet is not None and phone.applet.granted  # EXCHANGE said 01xx, encrypted
    assert phone.endpoint is not None
    assert phone.endpoint.decision == ms.Decision(True, "granted", "standard")
    second = agent.ble_transaction(phone.link())
    assert second is not None and second.decision.granted and second.flow == "fast"
    assert len(relay.pulses) == 2
    got = events(agent)
    assert len(got) == 2  # one event per attempt (R15)
    for event in got:
        assert event["method"] == "ble" and event["granted"] is True
        assert event["credential_id"] == "acr_x" and event["member_id"] == "mem_1"
        assert event["key_id"] == key_id(phone.public)
    assert got[0]["transaction_id"] != got[1]["transaction_id"]


def test_a_suspended_app_credential_is_denied_with_its_reason(tmp_path: Path, phone: Phone) -> None:
    cache = content({key_id(phone.public): app_credential(phone.public, "suspended")})
    agent, relay = paired_agent(tmp_path, cache)
    result = agent.ble_transaction(phone.link())
    assert result is not None and not result.decision.granted
    assert result.decision.reason.value == "credential_suspended"
    assert len(relay.pulses) == 0
    assert phone.applet is not None and not phone.applet.granted
    assert phone.endpoint is not None and phone.endpoint.decision is not None
    assert phone.endpoint.decision.reason == "credential_suspended"
    assert [e["reason"] for e in events(agent)] == ["credential_suspended"]


def test_an_apple_pass_over_bluetooth_is_unsupported_method(tmp_path: Path, phone: Phone) -> None:
    """The pass key authenticates over BLE (it is known), and is refused all the same (R12)."""
    agent, relay = paired_agent(tmp_path, content({key_id(phone.public): apple_pass(phone.public)}))
    result = agent.ble_transaction(phone.link())
    assert result is not None and not result.decision.granted
    assert result.decision.reason.value == "unsupported_method"
    assert len(relay.pulses) == 0
    (event,) = events(agent)
    assert event["method"] == "ble" and event["credential_id"] == "pass_1"
    assert event["reason"] == "unsupported_method"


def test_an_unknown_app_key_is_denied(tmp_path: Path, phone: Phone) -> None:
    agent, _ = paired_agent(tmp_path, content({}))
    result = agent.ble_transaction(phone.link())
    assert result is not None and result.decision.reason.value == "unknown_credential"
    assert len(events(agent)) == 1


def test_an_nfc_bound_applet_does_not_open_over_bluetooth(tmp_path: Path) -> None:
    """The interface byte is in the key derivation: NFC answers do not decrypt over BLE."""
    phone = Phone(interface=c.INTERFACE_NFC)
    agent, relay = paired_agent(
        tmp_path, content({key_id(phone.public): app_credential(phone.public)})
    )
    result = agent.ble_transaction(phone.link(), prefer_fast=False)
    assert result is not None and not result.decision.granted
    assert len(relay.pulses) == 0 and len(events(agent)) == 1


class Recorder:
    """A stream that notes what the app answered, for the replay test."""

    def __init__(self, inner: EmulatedPhone) -> None:
        self.inner = inner
        self.answers: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def receive(self) -> bytes:
        chunk = self.inner.receive()
        self.answers.append(chunk)
        return chunk


class Replayer:
    """An attacker's radio: plays back a recorded app's answers, in order."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)

    def send(self, data: bytes) -> None:
        return None  # the attacker does not care what the reader asks

    def receive(self) -> bytes:
        if not self.answers:
            raise CardGone("recording exhausted")
        return self.answers.pop(0)


@pytest.mark.parametrize("fast", [False, True])
def test_a_recorded_exchange_replayed_is_denied(tmp_path: Path, phone: Phone, fast: bool) -> None:
    agent, relay = paired_agent(
        tmp_path, content({key_id(phone.public): app_credential(phone.public)})
    )
    if fast:
        assert agent.ble_transaction(phone.link()) is not None  # the persistent key is learned
    phone.link()
    assert phone.endpoint is not None
    recorder = Recorder(EmulatedPhone(phone.endpoint))
    genuine = agent.ble_transaction(FramedLink(recorder), prefer_fast=fast)
    assert genuine is not None and genuine.decision.granted
    assert genuine.flow == ("fast" if fast else "standard")
    pulses, before = len(relay.pulses), len(events(agent))
    replayed = agent.ble_transaction(FramedLink(Replayer(recorder.answers)), prefer_fast=fast)
    assert replayed is not None and not replayed.decision.granted
    assert len(relay.pulses) == pulses
    assert len(events(agent)) == before + 1  # the replay is one denied event


def test_the_app_leaving_mid_exchange_decides_nothing(tmp_path: Path, phone: Phone) -> None:
    agent, relay = paired_agent(
        tmp_path, content({key_id(phone.public): app_credential(phone.public)})
    )

    class Gone:
        def send(self, data: bytes) -> None:
            return None

        def receive(self) -> bytes:
            raise CardGone("out of range")

    assert agent.ble_transaction(FramedLink(Gone())) is None
    assert events(agent) == [] and len(relay.pulses) == 0


def test_a_halted_reader_records_the_wave_as_tampered(tmp_path: Path, phone: Phone) -> None:
    agent, relay = paired_agent(
        tmp_path, content({key_id(phone.public): app_credential(phone.public)})
    )
    agent.tamper()
    result = agent.ble_transaction(phone.link())
    assert result is not None and result.decision.reason.value == "reader_tampered"
    assert phone.endpoint is not None and phone.endpoint.decision is not None
    assert phone.endpoint.decision.reason == "reader_tampered"
    assert [e["kind"] for e in events(agent)] == ["tamper", "access"]
    assert len(relay.pulses) == 0


class Garbage:
    """An app that answers with whatever bytes hypothesis draws."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def send(self, data: bytes) -> None:
        return None

    def receive(self) -> bytes:
        if not self.chunks:
            raise CardGone("nothing more")
        return self.chunks.pop(0)


answer_chunks = st.lists(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda t, p: bytes((t,)) + len(p).to_bytes(2, "big") + p,
            st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x7F]),
            st.binary(max_size=260),
        ),
    ),
    max_size=6,
)


@pytest.fixture(scope="module")
def garbage_agent(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReaderAgent, SimulatedRelay]:
    return paired_agent(tmp_path_factory.mktemp("garbage"), content({}))


@settings(max_examples=60, deadline=None)
@given(chunks=answer_chunks)
def test_any_bytes_from_the_app_end_in_a_deny_never_a_crash(
    garbage_agent: tuple[ReaderAgent, SimulatedRelay], chunks: list[bytes]
) -> None:
    agent, relay = garbage_agent
    before = len(events(agent))
    result = agent.ble_transaction(FramedLink(Garbage(list(chunks))))
    after = len(events(agent))
    if result is None:
        assert after == before  # the app left before a decision: nothing was decided
    else:
        assert not result.decision.granted and after == before + 1
    assert relay.pulses == []
