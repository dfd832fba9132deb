"""The server's WebSocket protocol for uvicorn: its sans-I/O implementation, with
permessage-deflate compressing only the messages worth it (``proto.ws_deflate``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.server import ServerProtocol

from passgate.proto.ws_deflate import PLAIN_BELOW, LargeOnlyDeflate, LargeOnlyDeflateFactory
from passgate.proto.ws_deflate import server_factory as deflate_factory

__all__ = [
    "PLAIN_BELOW",
    "LargeOnlyDeflate",
    "LargeOnlyDeflateFactory",
    "PassgateWebSockets",
    "deflate_factory",
]


class PassgateWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with :class:`LargeOnlyDeflate` (pass the class
    as uvicorn's ``ws``). Sends write to the transport at once (no task or drain per
    frame), which is what the reader hub's in-place sends rely on to be cheap."""

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
