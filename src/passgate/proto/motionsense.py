"""MotionSense: the Aliro expedited phase over a Bluetooth LE link, framed (sans-IO).

The unlock exchange between the Passgate app and a reader over Bluetooth LE is the Aliro
1.0 expedited phase itself (SELECT, AUTH0, [LOAD CERTIFICATE], AUTH1, EXCHANGE; FAST when
both sides share a persistent key) run with interface byte C3, so the keys, signatures
and the closing reader status are bound to the BLE interface and to the reader's
identifier, and every run has a fresh reader nonce and ephemeral keys. This module only
says how the APDUs travel over the link: the state machines are ``proto.aliro``'s.

A message is::

    type (1 byte) | length (2 bytes, big-endian) | payload (length bytes)

=====  =================  ==========  ===============================================
type   name               direction   payload
=====  =================  ==========  ===============================================
0x01   READER_APDU        reader->app one command APDU (4..261 bytes: short APDUs only)
0x02   APP_RESPONSE       app->reader one response APDU, status word included (2..258)
0x03   DECISION           reader->app granted (00/01), flow (00 none, 01 standard,
                                      02 fast), reason code in ASCII ``[a-z_]``, 1..48
0x04   ABORT              both        one byte: 01 the user ended it (Bluetooth off,
                                      app closed), 02 protocol error
=====  =================  ==========  ===============================================

The same byte stream runs over an L2CAP connection-oriented channel, over GATT (writes
to the reader's request characteristic, notifications from its response
characteristic, any fragmentation: :class:`Decoder` reassembles) and over the emulated
socket. Commands longer than a short APDU use ISO command chaining and long answers
61xx / GET RESPONSE, exactly as over NFC (``proto.aliro.runner``).

The DECISION message is advisory (it lets the app show why): what the reader really
decided is the encrypted, authenticated reader status of EXCHANGE, which the app's
applet checks (``DeviceApplet.granted``).

Parsing is strict: an unknown type, a length outside the type's bounds, a malformed
payload or a message the receiving side does not take raises :class:`MotionSenseError`
(an ``AliroError``: the reader's APDU loop turns it into a failed, denied transaction).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from passgate.proto.aliro.errors import AliroError

READER_APDU = 0x01
APP_RESPONSE = 0x02
DECISION = 0x03
ABORT = 0x04

ABORT_USER = 0x01
ABORT_PROTOCOL = 0x02

HEADER_LEN = 3
MAX_COMMAND = 4 + 1 + 255 + 1  # a short case-4 APDU
MAX_RESPONSE = 256 + 2
MAX_REASON = 48
# (minimum, maximum) payload length of each type.
BOUNDS: dict[int, tuple[int, int]] = {
    READER_APDU: (4, MAX_COMMAND),
    APP_RESPONSE: (2, MAX_RESPONSE),
    DECISION: (3, 2 + MAX_REASON),
    ABORT: (1, 1),
}
FROM_READER = frozenset({READER_APDU, DECISION, ABORT})
FROM_APP = frozenset({APP_RESPONSE, ABORT})
FLOWS = {0: None, 1: "standard", 2: "fast"}
_FLOW_CODES = {v: k for k, v in FLOWS.items()}
_REASON = re.compile(rb"[a-z_]{1,48}")


class MotionSenseError(AliroError):
    """Bytes on the BLE link that break the framing (or a message out of place)."""

    code = "motionsense_error"


@dataclass(frozen=True)
class Message:
    type: int
    payload: bytes

    def __post_init__(self) -> None:
        bounds = BOUNDS.get(self.type)
        if bounds is None:
            raise MotionSenseError(f"unknown message type {self.type:#04x}", field="type")
        low, high = bounds
        if not low <= len(self.payload) <= high:
            raise MotionSenseError(
                f"message type {self.type:#04x} takes {low} to {high} bytes", field="length"
            )
        if self.type == DECISION:
            Decision.parse(self.payload)
        elif self.type == ABORT and self.payload[0] not in (ABORT_USER, ABORT_PROTOCOL):
            raise MotionSenseError("unknown abort code", field="abort")

    def encode(self) -> bytes:
        return struct.pack(">BH", self.type, len(self.payload)) + self.payload


@dataclass(frozen=True)
class Decision:
    """What the reader tells the app after deciding (advisory; EXCHANGE is the proof)."""

    granted: bool
    reason: str
    flow: str | None = None

    def encode(self) -> bytes:
        reason = self.reason.encode("ascii", "replace")
        if not _REASON.fullmatch(reason) or self.flow not in _FLOW_CODES:
            raise MotionSenseError("decision reason or flow cannot be encoded", field="decision")
        return bytes((int(self.granted), _FLOW_CODES[self.flow])) + reason

    @classmethod
    def parse(cls, payload: bytes) -> Decision:
        if len(payload) < 3 or payload[0] > 1 or payload[1] not in FLOWS:
            raise MotionSenseError("malformed decision", field="decision")
        if not _REASON.fullmatch(payload[2:]):
            raise MotionSenseError("malformed decision reason", field="decision")
        return cls(bool(payload[0]), payload[2:].decode("ascii"), FLOWS[payload[1]])

    def message(self) -> Message:
        return Message(DECISION, self.encode())


def reader_apdu(command: bytes) -> bytes:
    return Message(READER_APDU, command).encode()


def app_response(response: bytes) -> bytes:
    return Message(APP_RESPONSE, response).encode()


def abort(code: int = ABORT_USER) -> bytes:
    return Message(ABORT, bytes((code,))).encode()


class Decoder:
    """Reassembles messages from any fragmentation of the stream, for one receiving side.

    ``accept`` is the set of types this side may receive (:data:`FROM_READER` on the
    app, :data:`FROM_APP` on the reader). A bad header is refused as soon as its three
    bytes are in, so garbage never makes the receiver wait for a large payload.
    """

    def __init__(self, accept: Iterable[int]) -> None:
        self._accept = frozenset(accept)
        self._buffer = b""

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole message yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        out: list[Message] = []
        while len(self._buffer) >= HEADER_LEN:
            kind, length = struct.unpack(">BH", self._buffer[:HEADER_LEN])
            if kind not in self._accept:
                self._buffer = b""
                raise MotionSenseError(f"message type {kind:#04x} not expected", field="type")
            low, high = BOUNDS[kind]
            if not low <= length <= high:
                self._buffer = b""
                raise MotionSenseError("message length out of bounds", field="length")
            if len(self._buffer) < HEADER_LEN + length:
                break
            payload = self._buffer[HEADER_LEN : HEADER_LEN + length]
            self._buffer = self._buffer[HEADER_LEN + length :]
            try:
                out.append(Message(kind, payload))
            except MotionSenseError:
                self._buffer = b""
                raise
        return out


class ApduResponder(Protocol):
    def process(self, command: bytes) -> bytes: ...


class AppEndpoint:
    """The app's side of one MotionSense exchange: bytes from the reader in, bytes out.

    Each READER_APDU goes to the applet (a ``DeviceApplet`` built with
    ``interface=INTERFACE_BLE`` on the app credential's key) and its answer goes back as
    APP_RESPONSE; the reader's DECISION or ABORT ends the exchange. ``receive`` raises
    only :class:`MotionSenseError`.
    """

    def __init__(self, applet: ApduResponder, *, max_commands: int = 16) -> None:
        self._applet = applet
        self._decoder = Decoder(FROM_READER)
        self._left = max_commands
        self.decision: Decision | None = None
        self.aborted: int | None = None

    @property
    def done(self) -> bool:
        return self.decision is not None or self.aborted is not None

    def receive(self, data: bytes) -> bytes:
        if self.done:
            if data:
                raise MotionSenseError("bytes after the end of the exchange", field="type")
            return b""
        out = b""
        for message in self._decoder.feed(data):
            if self.done:
                raise MotionSenseError("bytes after the end of the exchange", field="type")
            if message.type == READER_APDU:
                self._left -= 1
                if self._left < 0:
                    raise MotionSenseError("the reader sent too many commands", field="type")
                out += app_response(self._applet.process(message.payload))
            elif message.type == DECISION:
                self.decision = Decision.parse(message.payload)
            else:
                self.aborted = message.payload[0]
        return out
