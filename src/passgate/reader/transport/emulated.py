"""Emulated devices: in process, and over a local TCP socket.

Socket framing (both directions): 2-byte big-endian length, then the bytes. A session
starts with one request frame from the device side:

* ``N``: an NFC tap follows; the agent sends command APDUs, the device answers each;
  the agent ends with a frame ``D`` + JSON of the decision.
* ``W``: MotionSense: the app's Bluetooth LE link is up and the motion sensor fired
  (the device waved). From then on the connection carries the BLE link's byte stream,
  ``proto.motionsense`` messages (no 2-byte frames): the agent's APDUs, the app's
  answers, and the agent's DECISION at the end.
* ``T``: the tamper input fires; answered by ``D`` + JSON.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from passgate.proto.aliro.runner import ApduResponder
from passgate.proto.motionsense import AppEndpoint
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


class SocketStream:
    """The agent's side of a ``W`` session: the emulated BLE link's raw byte stream."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise CardGone(str(exc)) from exc

    def receive(self) -> bytes:
        try:
            chunk = self.sock.recv(4096)
        except OSError as exc:
            raise CardGone(str(exc)) from exc
        if not chunk:
            raise CardGone("the app closed the link")
        return chunk


class EmulatedPhone:
    """An in-process app (``proto.motionsense.AppEndpoint``) as the agent's BLE stream."""

    def __init__(self, endpoint: AppEndpoint) -> None:
        self.endpoint = endpoint
        self._inbox = b""

    def send(self, data: bytes) -> None:
        self._inbox += self.endpoint.receive(data)

    def receive(self) -> bytes:
        if not self._inbox:
            raise CardGone("the app has nothing to say")
        chunk, self._inbox = self._inbox, b""
        return chunk


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
