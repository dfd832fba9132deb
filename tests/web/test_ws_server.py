"""The readers' links' permessage-deflate (proto.ws_deflate), on the server and on the
reader: negotiated as usual, small messages sent uncompressed (RSV1 unset), large ones
compressed, and a standard peer decodes both on one connection in any order (RFC 7692
section 6.1)."""

from __future__ import annotations

import asyncio
import json

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.extensions.base import ClientExtensionFactory, ServerExtensionFactory
from websockets.extensions.permessage_deflate import (
    ServerPerMessageDeflateFactory,
    enable_client_permessage_deflate,
)
from websockets.frames import Frame
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from passgate.proto import ws_deflate
from passgate.proto.link import Applied, encode
from passgate.web import ws_server

RSV1 = 0x40


def _connected(
    client_side: ClientExtensionFactory | None = None,
    server_side: ServerExtensionFactory | None = None,
) -> tuple[ClientProtocol, ServerProtocol]:
    """A client and server after the handshake (by default websockets' client, our server)."""
    client = ClientProtocol(
        parse_uri("ws://127.0.0.1/reader/v1/ws"),
        extensions=[client_side or enable_client_permessage_deflate(None)[0]],
    )
    server = ServerProtocol(extensions=[server_side or ws_server.deflate_factory()])
    client.send_request(client.connect())
    for data in client.data_to_send():
        server.receive_data(data)
    [request] = server.events_received()
    assert isinstance(request, Request)
    server.send_response(server.accept(request))
    for data in server.data_to_send():
        client.receive_data(data)
    client.events_received()
    return client, server


def _send(server: ServerProtocol, client: ClientProtocol, text: str) -> tuple[bytes, str]:
    """What went on the wire for ``text``, and what the client made of it."""
    server.send_text(text.encode())
    wire = b"".join(server.data_to_send())
    client.receive_data(wire)
    [frame] = client.events_received()
    assert isinstance(frame, Frame) and frame.fin
    return wire, bytes(frame.data).decode()


def test_small_messages_go_uncompressed_and_large_ones_compressed_on_one_connection() -> None:
    client, server = _connected()
    assert [type(x) for x in server.extensions] == [ws_server.LargeOnlyDeflate]
    assert client.extensions[0].name == "permessage-deflate"  # negotiated as usual
    delta = json.dumps({"type": "shared_delta", "frame": {"v": 7, "sig": "ab" * 40}})
    snapshot = json.dumps({"rows": {f"{i:064x}": {"status": "active"} for i in range(400)}})
    assert len(delta) < ws_server.PLAIN_BELOW <= len(snapshot)

    for text in (delta, snapshot, delta, snapshot, delta):
        wire, got = _send(server, client, text)
        assert got == text
        compressed = bool(wire[0] & RSV1)
        assert compressed == (len(text) >= ws_server.PLAIN_BELOW)
        if compressed:
            assert len(wire) < len(text) / 2
        else:
            assert text.encode() in wire  # as it is, after the frame header


def test_uvicorn_runs_the_readers_links_with_it_when_compression_is_on() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    loop = asyncio.new_event_loop()
    try:
        for deflate in (True, False):
            config = Config(app, ws_per_message_deflate=deflate)
            config.load()
            protocol = ws_server.PassgateWebSockets(config, ServerState(), {}, _loop=loop)
            factories = protocol.conn.available_extensions or []
            assert [type(x) for x in factories] == (
                [ws_server.LargeOnlyDeflateFactory] if deflate else []
            )
    finally:
        loop.close()


@pytest.mark.parametrize(
    "server_side",
    [ServerPerMessageDeflateFactory(), ws_deflate.server_factory()],
    ids=["websockets' server", "ours"],
)
def test_the_readers_small_messages_go_uncompressed_and_large_ones_compressed(
    server_side: ServerExtensionFactory,
) -> None:
    client, server = _connected(ws_deflate.client_factory(), server_side)
    assert [type(x) for x in client.extensions] == [ws_deflate.LargeOnlyDeflate]
    assert server.extensions[0].name == "permessage-deflate"  # negotiated as usual
    report = encode(Applied(version=123456789))
    items = [{"kind": "access", "n": i} for i in range(99)]
    events = json.dumps({"type": "events", "items": items})
    assert len(report) < ws_deflate.PLAIN_BELOW <= len(events)
    for text in (report, events, report, events):
        client.send_text(text.encode())
        wire = b"".join(client.data_to_send())
        server.receive_data(wire)
        [frame] = server.events_received()
        assert isinstance(frame, Frame) and frame.fin
        assert bytes(frame.data).decode() == text
        compressed = bool(wire[0] & RSV1)
        assert compressed == (len(text) >= ws_deflate.PLAIN_BELOW)
        if compressed:
            assert len(wire) < len(text) / 2


def test_the_client_offers_what_websockets_client_offers_by_default() -> None:
    [default] = enable_client_permessage_deflate(None)
    assert ws_deflate.client_factory().get_request_params() == default.get_request_params()
