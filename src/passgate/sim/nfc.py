"""The device side of the reader agent's emulated radio: NFC taps over a local socket.

Wire format (the reader agent's emulated transport, restated here so the emulator
depends on the protocol, not on the agent's code): every frame is a 2-byte big-endian
length and the bytes. The device opens with ``N`` (an NFC tap: the reader then sends
command APDUs and the device answers each, until a ``D`` + JSON decision frame) or
``B`` + key id (a Bluetooth attempt, answered by ``D`` + JSON).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Protocol

MAX_FRAME = 64 * 1024
MAX_EXCHANGES = 16


class NfcError(Exception):
    """The reader could not be reached or broke the framing."""


class ApduResponder(Protocol):
    def process(self, command: bytes) -> bytes: ...


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise NfcError(f"reader address must be host:port, got {text!r}")
    return host or "127.0.0.1", int(port)


def _send(sock: socket.socket, data: bytes) -> None:
    if len(data) > MAX_FRAME:
        raise NfcError("frame too large")
    sock.sendall(struct.pack(">H", len(data)) + data)


def _recv(sock: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise NfcError("the reader closed the connection")
            buf += chunk
        return buf

    (length,) = struct.unpack(">H", exact(2))
    return exact(length)


def _decision(frame: bytes) -> dict[str, Any]:
    try:
        result = json.loads(frame[1:])
    except ValueError as exc:
        raise NfcError("the reader's decision is not JSON") from exc
    if not isinstance(result, dict):
        raise NfcError("the reader's decision is not an object")
    return result


def tap(address: tuple[str, int], device: ApduResponder, timeout: float = 10.0) -> dict[str, Any]:
    """Hold ``device`` to the reader: answer its APDUs; returns the reader's decision."""
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            _send(sock, b"N")
            for _ in range(MAX_EXCHANGES):
                frame = _recv(sock)
                if frame[:1] == b"D":
                    return _decision(frame)
                _send(sock, device.process(frame))
    except OSError as exc:
        raise NfcError(f"reader at {address[0]}:{address[1]}: {exc}") from exc
    raise NfcError("the reader kept sending commands without deciding")


def bluetooth_attempt(
    address: tuple[str, int], key_id: str, timeout: float = 10.0
) -> dict[str, Any]:
    """A Bluetooth (MotionSense) unlock attempt naming a credential key (R12)."""
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            _send(sock, b"B" + key_id.encode())
            return _decision(_recv(sock))
    except OSError as exc:
        raise NfcError(f"reader at {address[0]}:{address[1]}: {exc}") from exc
