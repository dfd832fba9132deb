"""The server's WebSocket protocol for uvicorn: its sans-I/O implementation, with
permessage-deflate compressing only the messages worth it (``proto.ws_deflate``), and a
direct send for the readers' link (``SEND_NOW``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.http11 import Request
from websockets.server import ServerProtocol

from passgate.proto.ws_deflate import PLAIN_BELOW, LargeOnlyDeflate, LargeOnlyDeflateFactory
from passgate.proto.ws_deflate import server_factory as deflate_factory

__all__ = [
    "PLAIN_BELOW",
    "SEND_NOW",
    "LargeOnlyDeflate",
    "LargeOnlyDeflateFactory",
    "PassgateWebSockets",
    "SendNow",
    "deflate_factory",
]

# The ASGI scope extension (scope["extensions"]) holding a connection's direct send.
SEND_NOW = "passgate.send_text_now"
SendNow = Callable[[str], bool]


class PassgateWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with :class:`LargeOnlyDeflate` (pass the class
    as uvicorn's ``ws``). Sends write to the transport at once (no task or drain per
    frame), which is what the reader hub's in-place sends rely on to be cheap.

    Each connection's scope also carries :meth:`send_text_now` as the ``SEND_NOW``
    extension: a text message written straight to the socket, without the ASGI send's
    layers (Starlette's checks, the exception wrapper, uvicorn's send and its wait for a
    writable socket: five coroutines per message). The reader hub sends every change to
    every connected reader, so that is per reader per change. It writes only when
    uvicorn's own send would write at once, and says False otherwise, so the caller then
    takes the ASGI send, which waits or raises as it always does.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[deflate_factory()],
                max_size=config.ws_max_size,
                logger=logging.getLogger("uvicorn.error"),
            )

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only when the handshake is accepted
        if scope is not None:
            scope["extensions"][SEND_NOW] = self.send_text_now

    def send_text_now(self, text: str) -> bool:
        """Write ``text`` as one message now: True if it was written; False when it must
        go through the ASGI send (no accepted handshake yet, closing or closed, the
        socket's buffer above its high-water mark)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False  # the peer started closing: the ASGI send reports it
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
