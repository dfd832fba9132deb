"""Emulated devices: in process, and over a local TCP socket.

Socket framing (both directions): 2-byte big-endian length, then the bytes. A session
starts with one request frame from the device side:

* ``N``: an NFC tap follows; the agent sends command APDUs, the device answers each;
  the agent ends with a frame ``D`` + JSON of the decision.
* ``B`` + key id: a Bluetooth attempt; answered by ``D`` + JSON.
* ``T``: the tamper input fires; answered by ``D`` + JSON.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from passgate.proto.aliro.runner import ApduResponder
from passgate.reader.agent import CardGone

MAX_FRAME = 64 * 1024


class EmulatedCard:
    """An in-process device (e.g. ``DeviceApplet``) as a card in the field."""

    def __init__(self, device: ApduResponder) -> None:
        self.device = device

    def transmit(self, command: bytes) -> bytes:
        return self.device.process(command)


def send_frame(sock: socket.socket, data: bytes) -> None:
    if len(data) > MAX_FRAME:
        raise ValueError("frame too large")
    sock.sendall(struct.pack(">H", len(data)) + data)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise CardGone("peer closed the connection")
        chunks += chunk
    return chunks


def recv_frame(sock: socket.socket) -> bytes:
    (length,) = struct.unpack(">H", _read_exact(sock, 2))
    return _read_exact(sock, length)


class SocketCard:
    """The agent's side of a socket session: APDUs go out, responses come back."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def transmit(self, command: bytes) -> bytes:
        try:
            send_frame(self.sock, command)
            return recv_frame(self.sock)
        except OSError as exc:
            raise CardGone(str(exc)) from exc


def device_tap(
    address: tuple[str, int], device: ApduResponder, timeout: float = 10.0
) -> dict[str, Any]:
    """The device's side of one NFC tap over the socket; returns the agent's decision."""
    with socket.create_connection(address, timeout=timeout) as sock:
        send_frame(sock, b"N")
        while True:
            frame = recv_frame(sock)
            if frame[:1] == b"D":
                result: dict[str, Any] = json.loads(frame[1:])
                return result
            send_frame(sock, device.process(frame))


def device_request(
    address: tuple[str, int], request: bytes, timeout: float = 10.0
) -> dict[str, Any]:
    with socket.create_connection(address, timeout=timeout) as sock:
        send_frame(sock, request)
        frame = recv_frame(sock)
        result: dict[str, Any] = json.loads(frame[1:])
        return result
