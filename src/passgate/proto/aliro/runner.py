"""Pump APDUs between a reader transaction and a device in memory.

This is how tests, the benchmark and the emulated NFC transport drive a tap: the same
bytes a radio would carry, with an optional transcript of (command, response) pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.reader import ReaderTransaction, TransactionResult

Transcript = list[tuple[bytes, bytes]]

# SELECT, AUTH0, AUTH1: a well-behaved reader needs three exchanges; anything longer is a bug.
MAX_EXCHANGES = 8


class ApduResponder(Protocol):
    def process(self, command: bytes) -> bytes: ...


def run_transaction(
    reader: ReaderTransaction,
    device: ApduResponder,
    *,
    decide: Callable[[TransactionResult], bool] | None = None,
    transcript: Transcript | None = None,
) -> TransactionResult:
    """Run one tap to its result, then send CONTROL FLOW with the access decision.

    ``decide`` is the access decision (default: grant exactly when authenticated); it is
    only consulted for authenticated transactions.
    """
    command = reader.start()
    for _ in range(MAX_EXCHANGES):
        response = device.process(command)
        if transcript is not None:
            transcript.append((command, response))
        outcome = reader.receive(response)
        if isinstance(outcome, TransactionResult):
            granted = outcome.authenticated and (decide(outcome) if decide else True)
            control = reader.finish(granted)
            answer = device.process(control)
            if transcript is not None:
                transcript.append((control, answer))
            return outcome
        command = outcome
    raise AliroError("reader did not finish within the expected number of exchanges")


class ReplayDevice:
    """A 'device' that answers with recorded responses, in order (for replay tests/tools)."""

    def __init__(self, responses: list[bytes]) -> None:
        self._responses = list(responses)

    def process(self, command: bytes) -> bytes:
        if not self._responses:
            return bytes.fromhex("6F00")
        return self._responses.pop(0)
