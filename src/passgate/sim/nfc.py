"""The device side of the reader agent's emulated radios: NFC taps and Bluetooth LE waves.

Wire format (the reader agent's emulated transport, restated here so the emulator
depends on the protocol, not on the agent's code): every frame is a 2-byte big-endian
length and the bytes. The device opens with ``N`` (an NFC tap: the reader then sends
command APDUs and the device answers each, until a ``D`` + JSON decision frame) or
``W`` (MotionSense: the phone's Bluetooth LE link is up and it waved at the reader's
motion sensor; from then on the connection is the link's byte stream of
``proto.motionsense`` messages, ending with the reader's DECISION).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Protocol

from passgate.proto import motionsense as ms
from passgate.proto.aliro import DeviceApplet

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


def wave(address: tuple[str, int], applet: DeviceApplet, timeout: float = 10.0) -> dict[str, Any]:
    """MotionSense: run the framed BLE exchange with ``applet``; the reader's decision.

    ``applet`` is a ``DeviceApplet`` built for interface C3. The answer holds the reader's
    (advisory) DECISION and ``confirmed``: whether the applet itself saw a granted
    reader status in the encrypted EXCHANGE.
    """
    endpoint = ms.AppEndpoint(applet)
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            _send(sock, b"W")
            while not endpoint.done:
                chunk = sock.recv(4096)
                if not chunk:
                    raise NfcError("the reader closed the Bluetooth link before deciding")
                try:
                    out = endpoint.receive(chunk)
                except ms.MotionSenseError as exc:
                    sock.sendall(ms.abort(ms.ABORT_PROTOCOL))
                    raise NfcError(f"the reader broke the Bluetooth framing: {exc}") from exc
                if out:
                    sock.sendall(out)
    except OSError as exc:
        raise NfcError(f"reader at {address[0]}:{address[1]}: {exc}") from exc
    decision = endpoint.decision
    if decision is None:
        raise NfcError("the reader aborted the Bluetooth exchange")
    return {
        "granted": decision.granted,
        "reason": decision.reason,
        "flow": decision.flow,
        "confirmed": applet.granted,
    }
