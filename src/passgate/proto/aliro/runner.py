"""The one APDU loop: drive a reader transaction over anything that can ``transceive``.

A :class:`Transceiver` is the NFC front end (PC/SC, nfcpy, the emulated socket) or, in
tests and benchmarks, a device applet in memory. The loop owns what ISO 7816-4 adds
between the state machine and the radio: a command with more data than the device accepts
in one APDU is sent with command chaining (extended length only when the device's FCI
announced it in 7F66), and an answer ending in 61xx is collected with GET RESPONSE.

    result = run_transaction(ReaderTransaction(...), transceiver, decide=...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from passgate.proto.aliro import constants as c
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.reader import ReaderTransaction, TransactionResult
from passgate.proto.apdu import SHORT_MAX_DATA, CommandApdu

SW_OK = b"\x90\x00"

Transcript = list[tuple[bytes, bytes]]

# SELECT, AUTH0, LOAD CERTIFICATE, AUTH1: four logical exchanges; anything longer is a bug.
MAX_EXCHANGES = 6
MAX_GET_RESPONSE = 32  # 8 KiB of answer at most


class Transceiver(Protocol):
    def transceive(self, command: bytes) -> bytes: ...


class ApduResponder(Protocol):
    """A device side in memory (``DeviceApplet`` or a recording)."""

    def process(self, command: bytes) -> bytes: ...


class InMemory:
    """Adapts an applet's ``process`` to ``transceive``."""

    def __init__(self, device: ApduResponder, transcript: Transcript | None = None) -> None:
        self._device = device
        self.transcript = transcript

    def transceive(self, command: bytes) -> bytes:
        response = self._device.process(command)
        if self.transcript is not None:
            self.transcript.append((command, response))
        return response


def exchange(link: Transceiver, command: CommandApdu, *, max_command: int | None) -> bytes:
    """Send one logical command; return its whole answer (data + final status word).

    An answer shorter than a status word is returned as it came: the reader refuses it.
    """
    data = command.data
    if len(data) > SHORT_MAX_DATA and (max_command is None or len(data) > max_command):
        for start in range(0, len(data) - SHORT_MAX_DATA, SHORT_MAX_DATA):
            part = CommandApdu(
                command.cla | c.CLA_CHAINING,
                command.ins,
                command.p1,
                command.p2,
                data[start : start + SHORT_MAX_DATA],
            )
            raw = link.transceive(part.encode())
            if len(raw) < 2 or raw[-2:] != SW_OK:
                return raw
        last = -(-len(data) // SHORT_MAX_DATA) - 1
        command = CommandApdu(
            command.cla,
            command.ins,
            command.p1,
            command.p2,
            data[last * SHORT_MAX_DATA :],
            command.le,
        )
    raw = link.transceive(command.wire)
    if len(raw) < 2 or raw[-2] != 0x61:
        return raw
    return _collect(link, raw)


def _collect(link: Transceiver, raw: bytes) -> bytes:
    """The whole answer that began with ``raw`` (ending 61xx), by GET RESPONSE."""
    body = b""
    for _ in range(MAX_GET_RESPONSE):
        body += raw[:-2]
        more = raw[-1] or 256
        raw = link.transceive(CommandApdu(c.CLA_ISO, c.INS_GET_RESPONSE, 0, 0, b"", more).encode())
        if len(raw) < 2:
            return raw  # broken framing: refused as a whole, never glued to the parts
        if raw[-2] != 0x61:
            return body + raw
    raise AliroError("device keeps answering 61xx", field="sw")


def run_transaction(
    reader: ReaderTransaction,
    link: Transceiver,
    *,
    decide: Callable[[TransactionResult], bool] | None = None,
) -> TransactionResult:
    """Run one tap to its result, then close it with the access decision.

    ``decide`` is the access decision (default: grant exactly when authenticated); it is
    consulted only for authenticated transactions. The closing command (EXCHANGE or
    CONTROL FLOW) is sent after the decision; the device's answer to it changes nothing.
    """
    outcome = run_until_result(reader, link)
    granted = outcome.authenticated and (decide(outcome) if decide else True)
    command = reader.finish(granted)  # close(), with exchange() inline for one APDU
    if len(command.data) <= SHORT_MAX_DATA:
        answer = link.transceive(command.wire)
        if len(answer) >= 2 and answer[-2] == 0x61:
            _collect(link, answer)
    else:
        exchange(link, command, max_command=reader.max_command)
    return outcome


def run_until_result(reader: ReaderTransaction, link: Transceiver) -> TransactionResult:
    command = reader.start()
    transceive = link.transceive
    for _ in range(MAX_EXCHANGES):
        try:
            if len(command.data) <= SHORT_MAX_DATA:  # one APDU: exchange() without a call
                response = transceive(command.wire)
                if len(response) >= 2 and response[-2] == 0x61:
                    response = _collect(link, response)
            else:
                response = exchange(link, command, max_command=reader.max_command)
        except AliroError:
            response = b"\x6f\x00"
        answer = reader.receive(response)
        if isinstance(answer, TransactionResult):
            return answer
        command = answer
    raise AliroError("reader did not finish within the expected number of exchanges")


def close(reader: ReaderTransaction, link: Transceiver, granted: bool) -> None:
    exchange(link, reader.finish(granted), max_command=reader.max_command)


class ReplayDevice:
    """A 'device' that answers with recorded responses, in order (for replay tests/tools)."""

    def __init__(self, responses: list[bytes]) -> None:
        self._responses = list(responses)

    def process(self, command: bytes) -> bytes:
        if not self._responses:
            return bytes.fromhex("6F00")
        return self._responses.pop(0)
