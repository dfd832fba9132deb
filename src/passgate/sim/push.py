"""APNs pushes as the emulated devices see them: a shared inbox file.

The local APNs receiver (``apns_receiver``) runs inside the demo; emulated devices may
live in other processes (each `passgate sim` command). ``InboxWriter`` is a receiver
listener that appends every accepted push, as one JSON line, to a file; a device reads
the lines after its last offset and reacts to those addressed to its push token, the
way iOS wakes Wallet. Only the token and topic are recorded: a push carries nothing else.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from passgate.sim.apns_receiver import Delivery


class InboxWriter:
    """Receiver listener: append each accepted push to ``path`` (one JSON object a line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)

    def __call__(self, delivery: Delivery) -> None:
        line = json.dumps(
            {"token": delivery.token, "topic": delivery.topic, "apns_id": delivery.apns_id}
        )
        with self._lock, self.path.open("a") as fh:
            fh.write(line + "\n")


@dataclass(frozen=True)
class Push:
    token: str
    topic: str


def read_inbox(path: Path, offset: int) -> tuple[list[Push], int]:
    """Pushes after byte ``offset`` (complete lines only) and the new offset."""
    if not path.exists():
        return [], offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1  # a line being written is read next time
    pushes = []
    for raw in data[:end].splitlines():
        try:
            item = json.loads(raw)
        except ValueError:
            continue  # not a push line; the inbox is append-only text, skip noise
        if isinstance(item, dict) and isinstance(item.get("token"), str):
            pushes.append(Push(item["token"].lower(), str(item.get("topic", ""))))
    return pushes, offset + end


def wait_for_token(path: Path, token: str, offset: int, timeout: float) -> tuple[list[Push], int]:
    """Read the inbox until a push for ``token`` arrives or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    seen: list[Push] = []
    while True:
        pushes, offset = read_inbox(path, offset)
        seen.extend(pushes)
        if any(p.token == token.lower() for p in seen) or time.monotonic() >= deadline:
            return seen, offset
        time.sleep(0.05)
