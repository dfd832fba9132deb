"""The readers' WebSocket as the hub's channel (``web.reader_link.WebSocketChannel``) on
uvicorn with ``web.ws_server``'s protocol, as ``passgate serve`` runs it: each message is
written straight to the socket (the ``SEND_NOW`` scope extension), small and large ones
in the order sent, and once the reader has left, a send says the channel is closed, as a
send through ASGI does."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from uvicorn.server import ServerState
from websockets.sync.client import connect

from passgate.services import reader_hub
from passgate.web import reader_link, ws_server


class CountingWebSockets(ws_server.PassgateWebSockets):
    """The server's protocol, noting what each direct send answered."""

    answers: list[bool] = []

    def send_text_now(self, text: str) -> bool:
        written = super().send_text_now(text)
        self.answers.append(written)
        return written


@contextmanager
def _serving(app: Starlette) -> Iterator[int]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws=CountingWebSockets
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def test_messages_are_written_directly_in_order_and_a_closed_channel_says_so() -> None:
    small = json.dumps({"type": "shared_delta", "n": 1})
    large = json.dumps({"rows": {f"{i:064x}": {"status": "active"} for i in range(400)}})
    assert len(small) < ws_server.PLAIN_BELOW <= len(large)
    texts = [small, large, small]
    outcome: dict[str, object] = {}
    finished = threading.Event()

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        channel = reader_link.WebSocketChannel(ws)
        for text in texts:
            await channel.send_text(text)
        try:
            await channel.receive()
        except reader_hub.ChannelClosed:
            outcome["receive"] = "closed"
        try:
            await channel.send_text(small)
        except reader_hub.ChannelClosed:
            outcome["send"] = "closed"
        finished.set()

    CountingWebSockets.answers = []
    with _serving(Starlette(routes=[WebSocketRoute("/ws", endpoint)])) as port:
        with connect(f"ws://127.0.0.1:{port}/ws", compression="deflate") as client:
            got = [client.recv(timeout=5) for _ in texts]
        assert finished.wait(5)
    assert got == texts
    assert outcome == {"receive": "closed", "send": "closed"}
    # Three written directly; the send after the reader left went to the ASGI send.
    assert CountingWebSockets.answers == [True, True, True, False]


def test_the_direct_send_declines_before_the_handshake() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app)
        config.load()
        protocol = ws_server.PassgateWebSockets(config, ServerState(), {}, _loop=loop)
        assert protocol.send_text_now("too early") is False
    finally:
        loop.close()
