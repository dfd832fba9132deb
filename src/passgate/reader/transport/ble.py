"""The reader's side of a MotionSense Bluetooth LE link (``proto.motionsense`` framing).

``FramedLink`` turns any byte stream to the app (an L2CAP channel, GATT writes and
notifications, the emulated socket) into the two things the agent needs: the Aliro APDU
loop's ``transceive`` and ``notify`` for the decision. A stream only has to ``send``
bytes and ``receive`` the next chunk (raising ``CardGone`` when the app left).
``GattStream`` is such a stream over GATT (``reader/transport/bluez.py`` plugs it into
BlueZ).
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable
from typing import Protocol

from passgate.proto import motionsense as ms
from passgate.reader.agent import CardGone

MAX_CHUNKS = 64  # chunks to wait for one answer (a GATT MTU of 23 needs 12 for 258 bytes)


class ByteStream(Protocol):
    def send(self, data: bytes) -> None: ...

    def receive(self) -> bytes: ...


class FramedLink:
    """One exchange over a stream: each command out, exactly one APP_RESPONSE back."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._decoder = ms.Decoder(ms.FROM_APP)

    def transceive(self, command: bytes) -> bytes:
        """Raises ``MotionSenseError`` on bad framing, ``CardGone`` when the app left."""
        self._stream.send(ms.reader_apdu(command))
        for _ in range(MAX_CHUNKS):
            messages = self._decoder.feed(self._stream.receive())
            if not messages:
                continue
            if len(messages) > 1 or self._decoder.pending:
                raise ms.MotionSenseError("more than one answer to a command", field="type")
            (message,) = messages
            if message.type == ms.ABORT:
                raise CardGone("the app ended the exchange")
            return message.payload
        raise ms.MotionSenseError("the answer never completed", field="length")

    def notify(self, granted: bool, reason: str, flow: str | None) -> None:
        self._stream.send(ms.Decision(granted, reason, flow).message().encode())


class GattStream:
    """The app's link as GATT: it writes to one characteristic, the reader notifies another.

    ``notify`` sends one notification (at most ``mtu - 3`` bytes: a message is split);
    BlueZ calls :meth:`written` for each write from the app, from its own thread or loop,
    and :meth:`unsubscribed` when the app stops listening or disconnects. ``receive``
    waits up to ``timeout_s`` for the next write (a phone that walked away: ``CardGone``).
    """

    def __init__(
        self, notify: Callable[[bytes], None], *, mtu: int = 23, timeout_s: float = 2.0
    ) -> None:
        if mtu < 23:
            raise ValueError("the ATT MTU is at least 23")
        self._notify = notify
        self._chunk = mtu - 3
        self._timeout_s = timeout_s
        self._inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=256)
        self.subscribed = False

    def subscribe(self) -> None:
        self.subscribed = True

    def unsubscribed(self) -> None:
        self.subscribed = False
        with contextlib.suppress(queue.Full):
            self._inbox.put_nowait(None)

    def written(self, value: bytes) -> None:
        try:
            self._inbox.put_nowait(bytes(value))
        except queue.Full:
            # An app flooding writes gets its exchange broken rather than our memory.
            self.unsubscribed()

    def reset(self) -> None:
        """Drop what an earlier exchange left behind, before a new one starts."""
        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                return

    def send(self, data: bytes) -> None:
        if not self.subscribed:
            raise CardGone("the app is not listening")
        for start in range(0, len(data), self._chunk):
            self._notify(data[start : start + self._chunk])

    def receive(self) -> bytes:
        try:
            chunk = self._inbox.get(timeout=self._timeout_s)
        except queue.Empty as exc:
            raise CardGone("the app did not answer in time") from exc
        if chunk is None:
            raise CardGone("the app disconnected")
        return chunk
