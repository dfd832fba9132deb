"""The server's WebSocket protocol for uvicorn: its sans-I/O implementation, compressing
only the messages worth it.

permessage-deflate (RFC 7692) stays on for the readers' links: a full snapshot's parts
are hundreds of kilobytes of JSON and shrink several times over. The frames of one change
(a shared delta is about 900 bytes, a heartbeat less) gain little, and compressing each
one for each reader was the largest single cost of a server pushing a change to
thousands of readers (py-spy, 4,000 readers: about a quarter of the server's busy time
in ``PerMessageDeflate.encode``). RFC 7692 lets a sender leave any message uncompressed
(RSV1 unset) on a connection that negotiated the extension, and every client decodes
both, so messages under ``PLAIN_BELOW`` bytes go out as they are; the compression
context of the connection is unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol
from websockets.typing import ExtensionParameter

PLAIN_BELOW = 2048  # bytes: messages shorter than this are sent uncompressed


class LargeOnlyDeflate(PerMessageDeflate):
    """permessage-deflate that sends a whole message under ``PLAIN_BELOW`` bytes as it is."""

    def encode(self, frame: Frame) -> Frame:
        if (
            frame.fin
            and frame.opcode in (Opcode.TEXT, Opcode.BINARY)
            and len(frame.data) < PLAIN_BELOW
        ):
            return frame  # a one-frame message, RSV1 unset: not compressed
        return super().encode(frame)


class LargeOnlyDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates permessage-deflate as websockets does; the extension is ``LargeOnlyDeflate``."""

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, made = super().process_request_params(params, accepted_extensions)
        return response, LargeOnlyDeflate(
            made.remote_no_context_takeover,
            made.local_no_context_takeover,
            made.remote_max_window_bits,
            made.local_max_window_bits,
            self.compress_settings,
        )


def deflate_factory() -> LargeOnlyDeflateFactory:
    # The window and memory settings uvicorn's own implementations use.
    return LargeOnlyDeflateFactory(
        server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
    )


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
