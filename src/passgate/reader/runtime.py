"""Running the agent: the server link in an asyncio loop, a transport in a thread."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import asdict

from passgate.reader.agent import CardGone, ReaderAgent, TapResult
from passgate.reader.transport.ble import FramedLink
from passgate.reader.transport.emulated import SocketCard, SocketStream, recv_frame, send_frame


def _result_json(result: TapResult | None) -> bytes:
    if result is None:
        return b"D" + json.dumps({"granted": False, "reason": None}).encode()
    body = {**asdict(result), "granted": result.decision.granted, "reason": result.decision.reason}
    body.pop("decision")
    return b"D" + json.dumps(body).encode()


class SocketTransport:
    """Serves emulated devices on a local TCP port, one session at a time (one field)."""

    def __init__(self, agent: ReaderAgent, host: str = "127.0.0.1", port: int = 0) -> None:
        self.agent = agent
        self.server = socket.create_server((host, port))
        self.address: tuple[str, int] = self.server.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self.server.close()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self._session(conn)
                except (CardGone, OSError, ValueError):
                    continue  # the device left; the next one may come

    def _session(self, conn: socket.socket) -> None:
        request = recv_frame(conn)
        kind = request[:1]
        if kind == b"N":
            result = self.agent.tap(SocketCard(conn))
            send_frame(conn, _result_json(result))
        elif kind == b"W":
            self.agent.ble_transaction(FramedLink(SocketStream(conn)))
        elif kind == b"T":
            seq = self.agent.tamper()
            send_frame(conn, b"D" + json.dumps({"sequence": seq}).encode())
