"""R15 under crashes: SIGKILL the agent process at random moments during a burst of taps.

Every decision a device was told (it received CONTROL FLOW) must end up stored on the
server exactly once. The agent runs as a real subprocess on the same cache file each
time; the emulated iPhone reaches it over its local socket. Set PASSGATE_KILL_TAPS for a
longer nightly run (default 200 taps, on both backends).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from tests.reader.support import Device, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.proto.aliro import constants as ac
from passgate.proto.aliro.messages import Auth0Command
from passgate.proto.apdu import CommandApdu
from passgate.reader.agent import CardGone, ReaderAgent
from passgate.reader.store import AgentStore
from passgate.reader.sync import pair
from passgate.reader.transport.emulated import device_tap


class WitnessDevice:
    """The emulated iPhone, noting which transactions it was told the outcome of (the
    reader status in the closing EXCHANGE)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.current: str | None = None
        self.told: dict[str, bool] = {}

    def process(self, command: bytes) -> bytes:
        apdu = CommandApdu.parse(command)
        if apdu.ins == ac.INS_AUTH0:
            self.current = Auth0Command.parse(apdu.data).transaction_id.hex()
        response = self.device.applet.process(command)
        told = apdu.ins == ac.INS_EXCHANGE and self.device.applet.last_outcome is not None
        if told and self.current is not None:
            self.told[self.current] = self.device.applet.granted
        return response


def _start(cache: Path) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "reader", "run", "--cache", str(cache)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("listening "), line
    host, _, port = line.split(" ", 1)[1].rpartition(":")
    return proc, (host, int(port))


def _reap(proc: subprocess.Popen[str]) -> None:
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


def test_no_told_decision_is_lost_or_stored_twice(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    taps = int(os.environ.get("PASSGATE_KILL_TAPS", "200"))
    rng = random.Random(int(os.environ.get("PASSGATE_KILL_SEED", "7")))
    world = World(client, container)
    cache = tmp_path / "agent.db"
    witness = WitnessDevice(world.device)
    kills = 0
    with live_server(container) as server:
        store = AgentStore(str(cache))
        pair(ReaderAgent(store), server, world.pairing_code(world.reader))
        store.close()
        proc, address = _start(cache)
        try:
            wait_until(lambda: world.stored_events(world.reader) is not None, "start")
            for _ in range(taps):
                timer = None
                if rng.random() < 0.15:
                    kills += 1
                    # SIGKILL at a random moment inside the tap (or just after it).
                    timer = threading.Timer(
                        rng.uniform(0, 0.02), os.kill, (proc.pid, signal.SIGKILL)
                    )
                    timer.start()
                try:
                    device_tap(address, witness, timeout=5)
                except (OSError, CardGone):
                    # The agent died mid-tap: nothing more to do for this tap; whatever it
                    # told the device before dying is in the witness and checked below.
                    witness.current = None
                if timer is not None:
                    timer.join()
                    _reap(proc)
                    proc, address = _start(cache)
            told = dict(witness.told)

            def stored_ids() -> list[str]:
                return [
                    e.data.get("transaction_id", "")
                    for e in world.stored_events(world.reader)
                    if e.category == "access"
                ]

            wait_until(lambda: set(told) <= set(stored_ids()), "every told decision stored", 30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _reap(proc)
    ids = stored_ids()
    assert len(ids) == len(set(ids)), "a tap was stored twice"
    granted = {e.data.get("transaction_id"): e.granted for e in world.stored_events(world.reader)}
    assert all(granted[tid] == outcome for tid, outcome in told.items())
    assert kills > 0 and len(told) > taps // 2
