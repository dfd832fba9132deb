"""The bench's device process on the other core: same answers as in-process, never orphaned.

Correctness only (no timing): a reader talking to devices in the forked process, through
shared memory, gets exactly the results (and, where nothing is signed, exactly the
bytes) it gets from the same devices in its own thread; the process is reaped on exit,
dies with its parent, and a dead one makes the reader's side raise instead of spinning.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.bench import other_core
from passgate.bench.other_core import DeviceLost, Responder, devices_on_other_core
from passgate.proto.aliro import (
    DeviceApplet,
    InMemory,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    TransactionResult,
    crypto,
    run_transaction,
)
from passgate.proto.aliro.runner import Transcript

P256 = ec.SECP256R1()


def _rng(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def _core() -> int:
    return max(os.sched_getaffinity(0))


class World:
    """Two credentials and a reader group, every random draw from fixed seeds."""

    def __init__(self) -> None:
        self.group_key = ec.derive_private_key(0x1234567, P256)
        self.group_id = bytes(range(16))
        self.credentials = [ec.derive_private_key(1000 + i, P256) for i in range(2)]
        self.identity = ReaderIdentity.with_key(  # signs AUTH1 with the group key
            self.group_id, bytes(range(16, 32)), self.group_key
        )

    def devices(self) -> list[DeviceApplet]:
        groups = {self.group_id: crypto.public_bytes(self.group_key)}
        return [
            DeviceApplet(key, reader_groups=groups, persistent_keys={}, rng=_rng(50 + i))
            for i, key in enumerate(self.credentials)
        ]

    def script(
        self, link_of: Callable[[int], InMemory]
    ) -> list[tuple[TransactionResult, Transcript]]:
        """A fixed sequence of taps: STANDARD (the reader learns the key), FAST, STANDARD
        asked for, FAST after it (the device's new key), and a credential the reader does
        not know; each with the reader's rng seeded by its place."""
        known: dict[bytes, KnownEndpoint] = {}
        first = crypto.public_bytes(self.credentials[0])
        known[first] = KnownEndpoint(first)
        steps = ((0, True), (0, True), (0, False), (0, True), (1, True))
        out = []
        for n, (device, fast) in enumerate(steps):
            link = link_of(device)
            assert link.transcript is not None
            tx = ReaderTransaction(
                self.identity,
                lookup=known.get,
                fast_candidates=lambda: list(known.values()),
                prefer_fast=fast,
                rng=_rng(n),
            )
            result = run_transaction(tx, link)
            if result.new_persistent_key is not None and result.endpoint_public_key is not None:
                key = result.endpoint_public_key
                known[key] = KnownEndpoint(key, result.new_persistent_key)
            out.append((result, list(link.transcript)))
            link.transcript.clear()
        return out


def _links(devices: Sequence[Responder]) -> Callable[[int], InMemory]:
    made = {i: InMemory(d, []) for i, d in enumerate(devices)}
    return made.__getitem__


def test_the_other_core_device_gives_the_in_process_results() -> None:
    world = World()
    here = world.script(_links(world.devices()))
    with devices_on_other_core(world.devices(), _core()) as proxies:
        there = world.script(_links(proxies))
        assert all(p.calls > 0 for p in proxies)
    flows = [(r.authenticated, r.flow, r.error) for r, _ in here]
    assert flows == [
        (True, "standard", None),
        (True, "fast", None),
        (True, "standard", None),
        (True, "fast", None),
        (False, None, "unknown_endpoint"),
    ]
    assert [r for r, _ in there] == [r for r, _ in here]
    for (result, mine), (_, theirs) in zip(here, there, strict=True):
        if result.flow == "fast":  # nothing signed: every byte is fixed by the seeds
            assert theirs == mine
        else:  # ECDSA signatures are randomized; the commands and answers line up
            assert [(c[:2], len(a)) for c, a in theirs] == [(c[:2], len(a)) for c, a in mine]


def test_a_long_command_and_answer_cross_intact() -> None:
    class Echo:
        def process(self, command: bytes) -> bytes:
            return command[::-1] + b"\x90\x00"

    blob = random.Random(7).randbytes(70_000)
    with devices_on_other_core([Echo(), Echo()], _core()) as (a, b):
        assert a.process(blob) == blob[::-1] + b"\x90\x00"
        assert b.transceive(b"\x01\x02") == b"\x02\x01\x90\x00"
        assert a.calls == 1 and b.calls == 1 and a.spent_ns > 0
        with pytest.raises(ValueError, match="longer than the hand-off buffer"):
            a.process(bytes(other_core._CAPACITY + 1))


def _gone(pid: int) -> bool:
    """The process has ended (reaped, or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.01)
    return False


def test_the_device_process_is_reaped_on_exit_even_after_an_error() -> None:
    with (
        pytest.raises(RuntimeError, match="bench failed"),
        devices_on_other_core(World().devices(), _core()) as proxies,
    ):
        pid = proxies[0]._link.pid
        assert not _gone(pid)
        raise RuntimeError("bench failed")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: not our child any more


def test_a_dead_device_process_raises_instead_of_spinning() -> None:
    with devices_on_other_core(World().devices(), _core()) as proxies:
        pid = proxies[0]._link.pid
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone(pid)
        with pytest.raises(DeviceLost, match="ended"):
            proxies[0].process(bytes.fromhex("00a4040000"))


def test_the_device_process_dies_with_its_parent() -> None:
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:  # a bench that crashes hard: no finally, no cleanup
        code = 1
        try:
            os.close(read)
            with devices_on_other_core(World().devices(), _core()) as proxies:
                os.write(write, str(proxies[0]._link.pid).encode())
                os._exit(0)
        finally:
            os._exit(code)
    os.close(write)
    try:
        device = int(os.read(read, 32))
    finally:
        os.close(read)
        os.waitpid(middle, 0)
    assert _wait_gone(device), f"device process {device} outlived its parent"
