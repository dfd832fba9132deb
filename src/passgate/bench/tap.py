"""`passgate bench tap`: the reader's CPU time per Tap to Unlock transaction, and its floor.

One run, the reader pinned to one core, measures with the calling thread's CPU clock
(``time.thread_time_ns``), interleaved block by block, with the emulated NFC devices
where a real tap has the phone: on another machine. By default (``--device other-core``)
they run in a forked process pinned to the other core and answer through shared memory
(:mod:`passgate.bench.other_core`), and the thread time of each hand-off (copying the
command out, spinning until the answer is there, copying it in) is taken off the reader's
figure, as a radio's I/O wait would be. ``--device in-process`` runs them in the reader's
thread instead (their ``process`` wrapped and its thread time subtracted): their work
then evicts the reader's caches in the middle of every tap. With one usable core the
bench falls back to in-process and says so. Paths:

* bare: the reader side of the Aliro transaction alone (SELECT to the closing EXCHANGE),
  FAST and STANDARD, STANDARD with the reader certificate sent by LOAD CERTIFICATE;
* agent: ``ReaderAgent.tap`` with a real :class:`AgentStore` in a temporary directory
  (fsync'ed event commit), the cache look-up, the access decision, the simulated relay
  and the closing EXCHANGE (its device placed like the bare path's);
* agent BLE: ``ReaderAgent.ble_transaction`` (MotionSense, R27): the same transaction with
  interface C3 for the app's own credential, framed for the Bluetooth LE link
  (``proto.motionsense``), with the DECISION message at the end; the app's framing and
  applet are the device's work and excluded (in the reader's thread: the framed link
  is the reader's own code);
* floor: the primitive operations the reader cannot avoid in each flow, in a tight loop.

The reader cache holds ``--credentials`` keys, each with a persistent key (a busy door:
every credential has tapped before); FAST candidates are tried as the agent orders them,
most recently used first, and the tapping credential is the most recent one.

The cost of reading the clock (a system call) is calibrated and taken off every sample.
CPU time of an fsync is what the kernel spends in this thread; waiting for the disk is
not CPU time and is not counted.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from time import thread_time_ns
from typing import Any, Protocol, TypeVar

import click
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passgate.bench.other_core import devices_on_other_core, usable
from passgate.domain.passes import key_id_of
from passgate.proto import motionsense as ms
from passgate.proto import snapshot as snap
from passgate.proto.aliro import (
    DeviceApplet,
    InMemory,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    TransactionResult,
    crypto,
    issue,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.messages import parse_fci
from passgate.reader.agent import ReaderAgent, TapResult
from passgate.reader.relay import SimulatedRelay
from passgate.reader.store import AgentStore
from passgate.reader.transport.ble import FramedLink

P256 = ec.SECP256R1()
ECDSA = ec.ECDSA(hashes.SHA256())
READER_ID = "rdr_bench"
TARGET_AGENT_FAST_MS = 0.5
TARGET_AGENT_STANDARD_MS = 1.0
TARGET_RATIO = 1.3
WARMUP_TAPS = 5
BLOCK = 10  # taps of one path in a row
OTHER_CORE, IN_PROCESS = "other-core", "in-process"
T = TypeVar("T")


# --- clock -----------------------------------------------------------------------------


def _clock_overhead_ns() -> int:
    """What one reading of the thread clock adds to an interval (median of many)."""
    readings = [thread_time_ns() for _ in range(2001)]
    return int(statistics.median(b - a for a, b in pairwise(readings)))


class Device(Protocol):
    """An emulated device as the bench drives it: the thread CPU time it takes from the
    reader's thread (``spent_ns``, over ``calls`` commands) is kept apart."""

    spent_ns: int
    calls: int

    def process(self, command: bytes) -> bytes: ...

    def transmit(self, command: bytes) -> bytes: ...

    def transceive(self, command: bytes) -> bytes: ...


class TimedDevice:
    """The emulated device in the reader's thread; CPU time inside ``process`` kept apart."""

    def __init__(self, applet: DeviceApplet) -> None:
        self.applet = applet
        self.spent_ns = 0
        self.calls = 0

    def process(self, command: bytes) -> bytes:
        start = thread_time_ns()
        answer = self.applet.process(command)
        self.spent_ns += thread_time_ns() - start
        self.calls += 1
        return answer

    # The agent's Card and the Aliro loop's NFC front end call ``process`` itself: a
    # forwarding call here would be the bench's own cost, counted on the reader's side.
    transmit = process
    transceive = process


class TimedPhone:
    """The app over an in-memory BLE link; its framing and applet's CPU time kept apart."""

    def __init__(self, applet: DeviceApplet) -> None:
        self.applet = applet
        self.spent_ns = 0
        self.calls = 0
        self._inbox = b""
        self._endpoint = ms.AppEndpoint(applet)

    def send(self, data: bytes) -> None:  # the reader's bytes reach the app
        start = thread_time_ns()
        if self._endpoint.done:  # the previous exchange ended with its DECISION
            self._endpoint = ms.AppEndpoint(self.applet)
        self._inbox += self._endpoint.receive(data)
        self.spent_ns += thread_time_ns() - start
        self.calls += 1

    def receive(self) -> bytes:
        chunk, self._inbox = self._inbox, b""
        return chunk


class TimedStore(AgentStore):
    """The agent's store; thread CPU time of the event commit (fsync included) is noted."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.spent_ns = 0

    def add_event(
        self, body: dict[str, Any], persistent: tuple[str, bytes, bytes] | None = None
    ) -> int:
        start = thread_time_ns()
        seq = super().add_event(body, persistent)
        self.spent_ns += thread_time_ns() - start
        return seq


@dataclass
class Meter:
    """Reader-side CPU samples (ns) of one measured path (and of its event commits)."""

    overhead_ns: int
    samples: list[int] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)

    def measure(
        self,
        device: Device | TimedPhone,
        run: Callable[[], T],
        store: TimedStore | None = None,
    ) -> T:
        device.spent_ns = device.calls = 0
        if store is not None:
            store.spent_ns = 0
        start = thread_time_ns()
        outcome = run()
        total = thread_time_ns() - start
        # One clock reading per interval boundary lands on the reader's side.
        self.samples.append(total - device.spent_ns - (device.calls + 1) * self.overhead_ns)
        if store is not None:
            self.commits.append(store.spent_ns - self.overhead_ns)
        return outcome

    def clear(self) -> None:
        self.samples.clear()
        self.commits.clear()


# --- the reader cache and the agent ----------------------------------------------------


def _content(keys: list[bytes], app_key: bytes | None = None) -> dict[str, Any]:
    """Signed cache content (see ``domain.reader_cache.parse_cache``): everyone may enter.

    ``app_key`` is the first member's app credential (MotionSense).
    """
    credentials: dict[str, dict[str, Any]] = {
        key_id_of(k.hex()): {
            "public_key": k.hex(),
            "kind": "apple_pass",
            "status": "active",
            "member_id": f"mem_{i}",
            "pass_id": f"pass_{i}",
        }
        for i, k in enumerate(keys)
    }
    if app_key is not None:
        credentials[key_id_of(app_key.hex())] = {
            "public_key": app_key.hex(),
            "kind": "mobile_app",
            "status": "active",
            "member_id": "mem_0",
            "pass_id": None,
            "app_credential_id": "acr_bench",
        }
    members = {
        f"mem_{i}": {"active": True, "grants": [{"from": None, "until": None, "schedule": None}]}
        for i in range(len(keys))
    }
    return {
        "org": {"eligible": True},
        "door": {
            "id": "door_bench",
            "timezone": "Europe/Berlin",
            "lockdown": False,
            "staleness_limit_s": 129600,
            "schedule": None,
        },
        "reader": {
            "id": READER_ID,
            "model": "reader_pro_2_1",
            "tamper_protection": True,
            "tampered": False,
            "tamper_seq": 0,
            "readiness": [],
        },
        "credentials": credentials,
        "members": members,
    }


@dataclass(frozen=True)
class Group:
    """An organization's Aliro reader group, as the server holds it."""

    identifier: bytes
    key: ec.EllipticCurvePrivateKey

    @property
    def public(self) -> bytes:
        return crypto.public_bytes(self.key)

    def certify(self, reader_public: bytes) -> bytes:
        now = datetime.now(UTC)
        cert = (
            issue(  # laid out as the server issues it (services/credentials/aliro_groups.certify)
                self.key,
                serial=(1 << 62) + 1,
                subject=READER_ID,
                public_key=reader_public,
                not_before=now - timedelta(minutes=5),
                not_after=now + timedelta(days=730),
            )
        )
        return cert.encode()


def _agent(
    directory: Path,
    group: Group,
    content: dict[str, Any],
    seeds: Iterable[tuple[bytes, bytes]],
) -> tuple[ReaderAgent, TimedStore]:
    """A paired agent with a cache applied and persistent keys for ``seeds``."""
    store = TimedStore(str(directory / "agent.db"))
    for public, secret in seeds:  # as STANDARD taps would have left them
        store.add_event({"kind": "bench_seed"}, (key_id_of(public.hex()), public, secret))
    agent = ReaderAgent(store, SimulatedRelay())
    aliro_key = ec.generate_private_key(P256)
    store.put(
        {
            "reader_id": READER_ID,
            "door_id": "door_bench",
            "aliro_key": snap.private_pem(aliro_key).decode(),
            "aliro_certificate": None,
        }
    )
    agent.install_certificate(
        group_identifier=group.identifier.hex(),
        group_public_key=group.public.hex(),
        certificate=group.certify(crypto.public_bytes(aliro_key)).hex(),
    )
    agent.apply(1, content)
    return agent, store


class BareReader:
    """The reader side alone: a cache of endpoints, FAST candidates most recent first."""

    def __init__(self, identity: ReaderIdentity, endpoints: dict[bytes, KnownEndpoint]) -> None:
        self.identity = identity
        self.endpoints = endpoints  # public key -> endpoint, least recently used first

    def candidates(self) -> Iterable[KnownEndpoint]:
        return reversed(self.endpoints.values())

    def transaction(self, device: Device, fast: bool) -> TransactionResult:
        tx = ReaderTransaction(
            self.identity,
            lookup=self.endpoints.get,
            fast_candidates=self.candidates,
            prefer_fast=fast,
        )
        return run_transaction(tx, device)


# --- the crypto floor ------------------------------------------------------------------


class Floor:
    """The cryptographic work a reader cannot avoid in each flow, on inputs shaped like a
    real transaction, each operation timed on its own (clock cost taken off each).

    FAST: a fresh ephemeral key (and its point for AUTH0), the 16-byte transaction
    identifier, for the tapping credential HKDF-Extract (the salt is longer than a SHA-256
    block, so HMAC hashes it) and the first Expand block (CryptogramSK), opening 9D, the
    second block (SKReader) and sealing the closing EXCHANGE. STANDARD: the key and the
    identifier, loading the device's ephemeral point (it arrives fresh every time), ECDH,
    X9.63 (one SHA-256 block), HKDF-Extract and the two blocks the reader uses (SKReader,
    SKDevice), the AUTH1 signature, opening the AUTH1 answer, verifying the device's
    signature (the credential's key object is cached per credential, as the reader does),
    Kpersistent (Extract and one block) and sealing EXCHANGE. Both flows also free the
    ephemeral private key where the reader drops it (OpenSSL clears it). The other three
    32-byte keys of each derivation (step-up, BLE, URSK) serve phases this reader does
    not run, so neither the reader nor the floor makes them.
    """

    STANDARD_OPS = (
        "keygen",
        "nonce",
        "load_device_point",
        "ecdh",
        "x963_kdf",
        "hkdf_2_blocks",
        "ecdsa_sign",
        "gcm_open_auth1",
        "ecdsa_verify",
        "kpersistent",
        "free_ephemeral",
        "gcm_seal_exchange",
    )
    FAST_OPS = (
        "keygen",
        "nonce",
        "hkdf_first_block",
        "gcm_open_9d",
        "hkdf_second_block",
        "free_ephemeral",
        "gcm_seal_exchange",
    )

    def __init__(self, reader_key: ec.EllipticCurvePrivateKey, fci: bytes, overhead_ns: int):
        self.overhead_ns = overhead_ns
        self.reader_key = reader_key
        device_eph = ec.generate_private_key(P256)
        credential = ec.generate_private_key(P256)
        self.device_point = crypto.public_bytes(device_eph)
        self.credential = credential.public_key()
        self.credential_x = crypto.x_of(crypto.public_bytes(credential))
        ctx = crypto.Context(
            reader_key_x=os.urandom(32),
            reader_id=os.urandom(32),
            version=c.VERSION_1_0,
            reader_ephemeral=crypto.public_bytes(ec.generate_private_key(P256)),
            transaction_id=os.urandom(c.TRANSACTION_ID_LEN),
            flags=c.FLAGS_FAST,
            policy=c.POLICY_USER_DEVICE_SETTING,
            fci_proprietary=parse_fci(fci).proprietary,
            device_ephemeral=self.device_point,
        )
        self.transaction_id = ctx.transaction_id
        self.salt_standard = ctx.salt(c.LABEL_VOLATILE)
        self.salt_persistent = ctx.salt(c.LABEL_PERSISTENT) + self.credential_x
        self.salt_fast = ctx.salt(c.LABEL_FAST) + self.credential_x
        self.info = ctx.info
        self.reader_signed = ctx.signed_data(c.READER_USAGE)
        device_signed = ctx.signed_data(c.DEVICE_USAGE)
        self.device_signature = credential.sign(device_signed, ECDSA)
        self.device_signed = device_signed
        self.kpersistent = os.urandom(32)
        self.key = os.urandom(32)
        self.iv = crypto.channel_iv(crypto.DEVICE_TO_READER, 1)
        # AUTH1 answer: 5A credential key, 9E signature, 5E signaling (and TLV headers).
        self.auth1_answer = AESGCM(self.key).encrypt(self.iv, os.urandom(67 + 66 + 4), None)
        self.cryptogram = AESGCM(self.key).encrypt(crypto.ZERO_IV, os.urandom(48), None)
        self.status = b"\x97\x02\x01\x01"

    def _split(self, laps: list[int]) -> list[int]:
        return [b - a - self.overhead_ns for a, b in pairwise(laps)]

    def standard(self) -> list[int]:
        laps = [thread_time_ns()]
        eph = ec.generate_private_key(P256)
        crypto.ephemeral_point(eph)  # AUTH0 carries the point
        laps.append(thread_time_ns())
        tid = os.urandom(c.TRANSACTION_ID_LEN)
        laps.append(thread_time_ns())
        device_eph = ec.EllipticCurvePublicKey.from_encoded_point(P256, self.device_point)
        laps.append(thread_time_ns())
        shared = eph.exchange(ec.ECDH(), device_eph)
        laps.append(thread_time_ns())
        kdh = hashlib.sha256(shared + b"\x00\x00\x00\x01" + tid).digest()
        laps.append(thread_time_ns())
        prk = hmac.digest(self.salt_standard, kdh, "sha256")
        sk_reader = hmac.digest(prk, self.info + b"\x01", "sha256")
        sk_device = hmac.digest(prk, sk_reader + self.info + b"\x02", "sha256")
        laps.append(thread_time_ns())
        self.reader_key.sign(self.reader_signed, ECDSA)
        laps.append(thread_time_ns())
        AESGCM(self.key).decrypt(self.iv, self.auth1_answer, None)
        laps.append(thread_time_ns())
        self.credential.verify(self.device_signature, self.device_signed, ECDSA)
        laps.append(thread_time_ns())
        prk = hmac.digest(self.salt_persistent, kdh, "sha256")
        hmac.digest(prk, self.info + b"\x01", "sha256")
        laps.append(thread_time_ns())
        del eph  # the reader drops its ephemeral secret (freed and cleared) at the result
        laps.append(thread_time_ns())
        AESGCM(sk_reader).encrypt(crypto.channel_iv(crypto.READER_TO_DEVICE, 1), self.status, None)
        del sk_device  # it opened the AUTH1 answer (timed with the stand-in key above)
        laps.append(thread_time_ns())
        return self._split(laps)

    def fast(self) -> list[int]:
        laps = [thread_time_ns()]
        eph = ec.generate_private_key(P256)
        crypto.ephemeral_point(eph)
        laps.append(thread_time_ns())
        os.urandom(c.TRANSACTION_ID_LEN)
        laps.append(thread_time_ns())
        prk = hmac.digest(self.salt_fast, self.kpersistent, "sha256")
        cryptogram_sk = hmac.digest(prk, self.info + b"\x01", "sha256")
        laps.append(thread_time_ns())
        AESGCM(self.key).decrypt(crypto.ZERO_IV, self.cryptogram, None)
        laps.append(thread_time_ns())
        sk_reader = hmac.digest(prk, cryptogram_sk + self.info + b"\x02", "sha256")
        laps.append(thread_time_ns())
        del eph  # the reader drops its ephemeral secret (freed and cleared) once matched
        laps.append(thread_time_ns())
        AESGCM(sk_reader).encrypt(self.iv, self.status, None)
        laps.append(thread_time_ns())
        return self._split(laps)


# --- statistics and output -------------------------------------------------------------


def _ms(ns: float) -> float:
    return round(ns / 1e6, 4)


def _median_p99(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return _ms(statistics.median(ordered)), _ms(p99)


@contextlib.contextmanager
def _one_core() -> Iterator[tuple[int | None, set[int]]]:
    """Pin this thread to one core for the run (Linux), restoring the affinity after;
    yields that core and the cores this process may use."""
    if not hasattr(os, "sched_setaffinity"):
        yield None, set()
        return
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core, set(before)
    finally:
        os.sched_setaffinity(0, before)


def _bare_ok(outcome: TransactionResult, flow: str) -> None:
    if not (outcome.authenticated and outcome.flow == flow):
        raise click.ClickException(f"a bare {flow} transaction did not authenticate: {outcome}")


def _agent_ok(outcome: TapResult | None, flow: str) -> None:
    if outcome is None or not (
        outcome.flow == flow and outcome.decision.granted and outcome.relay_ok
    ):
        raise click.ClickException(f"an agent {flow} tap was not granted as {flow}: {outcome}")


def _run(taps: int, credentials: int, progress: bool, device_core: int | None) -> dict[str, Any]:
    """Measure every path; the NFC devices run on ``device_core`` (None: in-process)."""
    overhead = _clock_overhead_ns()
    group = Group(os.urandom(16), ec.generate_private_key(P256))
    tapper = ec.generate_private_key(P256)
    tapper_public = crypto.public_bytes(tapper)
    others = [
        (crypto.public_bytes(ec.generate_private_key(P256)), os.urandom(32))
        for _ in range(credentials - 1)
    ]
    app_key = ec.generate_private_key(P256)
    content = _content(
        [tapper_public, *(public for public, _ in others)], crypto.public_bytes(app_key)
    )

    def applet() -> DeviceApplet:
        return DeviceApplet(
            tapper, reader_groups={group.identifier: group.public}, persistent_keys={}
        )

    phone = TimedPhone(
        DeviceApplet(
            app_key,
            reader_groups={group.identifier: group.public},
            persistent_keys={},
            interface=c.INTERFACE_BLE,
        )
    )

    # Bare reader: its own key, certified by the group, sent by LOAD CERTIFICATE.
    reader_key = ec.generate_private_key(P256)
    identity = ReaderIdentity.with_key(
        group.identifier,
        os.urandom(16),
        reader_key,
        group_public_key=group.public,
        certificate=group.certify(crypto.public_bytes(reader_key)),
    )
    endpoints = {public: KnownEndpoint(public, secret) for public, secret in others}
    bare = BareReader(identity, endpoints)
    applets = (applet(), applet(), applet())  # bare STANDARD, bare FAST, the agent's
    learned = run_transaction(  # before any fork: the device keeps what it learns
        ReaderTransaction(
            identity, lookup=lambda _: KnownEndpoint(tapper_public), fast_candidates=list
        ),
        InMemory(applets[1]),
    )
    _bare_ok(learned, "standard")
    endpoints[tapper_public] = KnownEndpoint(tapper_public, learned.new_persistent_key)
    floor = Floor(reader_key, applets[1].fci, overhead)

    meters = {
        name: Meter(overhead)
        for name in (
            "fast",
            "standard",
            "agent_fast",
            "agent_standard",
            "agent_ble_fast",
            "agent_ble_standard",
        )
    }
    floor_samples: dict[str, list[list[int]]] = {"fast": [], "standard": []}
    with (
        tempfile.TemporaryDirectory(prefix="passgate-bench-tap-") as tmp,
        contextlib.ExitStack() as placed,
    ):
        devices: list[Device]
        if device_core is None:
            devices = [TimedDevice(a) for a in applets]
        else:
            devices = list(placed.enter_context(devices_on_other_core(applets, device_core)))
        bare_standard_device, bare_fast_device, agent_device = devices
        agent, store = _agent(Path(tmp), group, content, others)
        try:
            # The tapping credential's first tap is STANDARD: the agent learns its key.
            _agent_ok(agent.tap(agent_device, prefer_fast=True), "standard")
            _agent_ok(agent.ble_transaction(FramedLink(phone), prefer_fast=True), "standard")

            # What each timed region runs, bound beforehand: a partial calls through in C,
            # where a lambda would add a Python frame of the bench's to the reader's time.
            tap_standard = functools.partial(bare.transaction, bare_standard_device, False)
            tap_fast = functools.partial(bare.transaction, bare_fast_device, True)
            agent_tap_standard = functools.partial(agent.tap, agent_device, prefer_fast=False)
            agent_tap_fast = functools.partial(agent.tap, agent_device, prefer_fast=True)

            def bare_standard() -> None:
                _bare_ok(
                    meters["standard"].measure(bare_standard_device, tap_standard),
                    "standard",
                )

            def bare_fast() -> None:
                _bare_ok(
                    meters["fast"].measure(bare_fast_device, tap_fast),
                    "fast",
                )

            def agent_standard() -> None:
                _agent_ok(
                    meters["agent_standard"].measure(agent_device, agent_tap_standard, store),
                    "standard",
                )

            def agent_fast() -> None:
                _agent_ok(
                    meters["agent_fast"].measure(agent_device, agent_tap_fast, store),
                    "fast",
                )

            def agent_ble(fast: bool) -> None:
                flow = "fast" if fast else "standard"
                _agent_ok(
                    meters[f"agent_ble_{flow}"].measure(
                        phone,
                        lambda: agent.ble_transaction(FramedLink(phone), prefer_fast=fast),
                        store,
                    ),
                    flow,
                )

            paths: tuple[Callable[[], None], ...] = (
                bare_standard,
                bare_fast,
                agent_standard,
                agent_fast,
                lambda: agent_ble(False),
                lambda: agent_ble(True),
                lambda: floor_samples["standard"].append(floor.standard()),
                lambda: floor_samples["fast"].append(floor.fast()),
            )

            def block(n: int) -> None:
                # Each path runs n taps in a row (steady state, like a busy door); blocks
                # alternate so that drift in the machine's speed touches every path alike.
                for path in paths:
                    for _ in range(n):
                        path()

            block(WARMUP_TAPS)
            for meter in meters.values():
                meter.clear()
            floor_samples["standard"].clear()
            floor_samples["fast"].clear()
            gc.collect()
            sizes = [BLOCK] * (taps // BLOCK) + ([taps % BLOCK] if taps % BLOCK else [])
            with contextlib.ExitStack() as stack:
                bar = None
                if progress:
                    bar = stack.enter_context(
                        click.progressbar(length=taps, label="Tapping", file=sys.stderr)
                    )
                for n in sizes:
                    block(n)
                    if bar is not None:
                        bar.update(n)
        finally:
            store.close()

    result: dict[str, Any] = {}
    for name, meter in meters.items():
        result[f"{name}_median_ms"], result[f"{name}_p99_ms"] = _median_p99(meter.samples)
        if meter.commits:
            result[f"{name}_commit_median_ms"] = _ms(statistics.median(meter.commits))
    for flow, names in (("fast", Floor.FAST_OPS), ("standard", Floor.STANDARD_OPS)):
        rows = floor_samples[flow]
        totals = [sum(row) for row in rows]
        result[f"floor_{flow}_ms"], result[f"floor_{flow}_p99_ms"] = _median_p99(totals)
        result[f"floor_{flow}_ops_ms"] = {
            op: _ms(statistics.median(row[i] for row in rows)) for i, op in enumerate(names)
        }
        result[f"ratio_{flow}"] = round(
            statistics.median(meters[flow].samples) / statistics.median(totals), 3
        )
    result["targets_met"] = {
        "agent_fast": result["agent_fast_median_ms"] < TARGET_AGENT_FAST_MS,
        "agent_standard": result["agent_standard_median_ms"] < TARGET_AGENT_STANDARD_MS,
        "ratio_fast": result["ratio_fast"] <= TARGET_RATIO,
        "ratio_standard": result["ratio_standard"] <= TARGET_RATIO,
    }
    result["clock_overhead_us"] = round(overhead / 1e3, 3)
    result["credentials"] = credentials
    result["taps"] = taps
    return result


def _report(r: dict[str, Any]) -> None:
    met = r["targets_met"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    core, device_core = r["reader_core"], r["device_core"]
    where = f"core {core}" if core is not None else "one thread"
    click.echo(
        f"Reader CPU time per tap, {r['taps']} taps, {r['credentials']} credentials, {where}"
        " (thread time, device excluded)"
    )
    if device_core is not None:
        click.echo(
            f"NFC devices: a process on core {device_core}, shared memory (hand-off excluded)"
        )
    else:
        why = f" ({r['device_fallback']})" if r["device_fallback"] else ""
        click.echo(f"NFC devices: in the reader's thread{why}")
    click.echo(f"{'':24}{'median':>10}{'p99':>12}")
    rows = (
        ("bare FAST", "fast", ""),
        ("bare STANDARD", "standard", ""),
        ("agent tap FAST", "agent_fast", f"target < {TARGET_AGENT_FAST_MS} ms: "),
        ("agent tap STANDARD", "agent_standard", f"target < {TARGET_AGENT_STANDARD_MS} ms: "),
        ("agent BLE wave FAST", "agent_ble_fast", ""),
        ("agent BLE wave STANDARD", "agent_ble_standard", ""),
        ("crypto floor FAST", "floor_fast", ""),
        ("crypto floor STANDARD", "floor_standard", ""),
    )
    for label, key, target in rows:
        median = r[f"{key}_median_ms"] if f"{key}_median_ms" in r else r[f"{key}_ms"]
        line = f"{label:24}{median:>7.4f} ms{r[f'{key}_p99_ms']:>9.4f} ms"
        if target:
            line += f"   {target}{verdict(met[key])}"
        click.echo(line)
        if f"{key}_commit_median_ms" in r:
            click.echo(
                f"{'  of it event commit':24}{r[f'{key}_commit_median_ms']:>7.4f} ms (fsync)"
            )
    for flow in ("fast", "standard"):
        click.echo(
            f"bare/floor {flow.upper():9} {r[f'ratio_{flow}']:.2f}x"
            f"   target <= {TARGET_RATIO}x: {verdict(met[f'ratio_{flow}'])}"
        )
    for flow in ("fast", "standard"):
        ops = ", ".join(f"{op} {ms * 1000:.1f}" for op, ms in r[f"floor_{flow}_ops_ms"].items())
        click.echo(f"floor {flow.upper()} (us): {ops}")


@click.command("tap")
@click.option(
    "--taps",
    default=300,
    show_default=True,
    type=click.IntRange(min=1),
    help="Measured taps per path (after a short warm-up).",
)
@click.option(
    "--credentials",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Credential keys in the reader cache, each with a persistent key.",
)
@click.option(
    "--device",
    type=click.Choice([OTHER_CORE, IN_PROCESS]),
    default=OTHER_CORE,
    show_default=True,
    help="Where the emulated NFC devices run: a process pinned to the other core, answering"
    " through shared memory (in-process when only one core is usable), or the reader's"
    " thread.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout, nothing else."
)
def tap(taps: int, credentials: int, device: str, as_json: bool) -> None:
    """Reader CPU time per Tap to Unlock, FAST and STANDARD, against the crypto floor.

    In one run, the reader on one core, with thread CPU time and the emulated device's own
    work excluded (by default the NFC devices run in a process on the other core, as a
    phone is another machine, and the hand-off is excluded like radio I/O): the bare
    Aliro transaction on the reader side (STANDARD presents the reader certificate with
    LOAD CERTIFICATE), the agent's real tap (ReaderAgent.tap with an
    fsync'ed SQLite store in a temporary directory, cache look-up, access decision, relay,
    closing EXCHANGE), the agent's MotionSense exchange over Bluetooth LE (the app
    credential, interface C3, framed), and the minimum primitive operations of each flow.
    Prints medians and p99 in ms and the bare/floor ratio. Targets: agent FAST < 0.5 ms,
    STANDARD < 1 ms, bare within 1.3x of the floor.
    """
    with _one_core() as (core, cores):
        device_core, note = None, None
        if device == OTHER_CORE:
            device_core, note = (None, "no CPU affinity") if core is None else usable(cores, core)
        if not as_json:
            click.echo(f"Preparing a cache of {credentials} credentials...", err=True)
        result = _run(taps, credentials, progress=not as_json, device_core=device_core)
    result["device"] = IN_PROCESS if device_core is None else OTHER_CORE
    result["device_fallback"] = note  # why other-core was asked for and not used
    result["reader_core"], result["device_core"] = core, device_core
    if as_json:
        click.echo(json.dumps(result))
    else:
        _report(result)
