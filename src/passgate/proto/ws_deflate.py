"""permessage-deflate (RFC 7692) for the readers' links, compressing only the messages
worth it, on either side.

A full snapshot's parts are hundreds of kilobytes of JSON and shrink several times over;
the messages of one change (a shared delta is about 900 bytes, a heartbeat, an agent's
``applied`` report or ``ping`` much less) gain little, and compressing each one for each
reader was the largest single cost of a server pushing a change to thousands of readers
(py-spy, 4,000 readers: about a quarter of its busy time in ``PerMessageDeflate.encode``),
and inflating each reader's report was a cost of receiving them. RFC 7692 lets a sender
leave any message uncompressed (RSV1 unset) on a connection that negotiated the
extension, and every peer decodes both, so messages under ``PLAIN_BELOW`` bytes go out
as they are; the compression context of the connection is unaffected. Negotiation is
websockets' own: a peer sees a standard permessage-deflate connection.
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.typing import ExtensionParameter

PLAIN_BELOW = 2048  # bytes: messages shorter than this are sent uncompressed
# The window and memory settings uvicorn's own implementations use (and the agent's).
WINDOW_BITS = 12
COMPRESS_SETTINGS = {"memLevel": 5}


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


def _large_only(made: PerMessageDeflate, settings: dict[str, int] | None) -> LargeOnlyDeflate:
    return LargeOnlyDeflate(
        made.remote_no_context_takeover,
        made.local_no_context_takeover,
        made.remote_max_window_bits,
        made.local_max_window_bits,
        settings,
    )


class LargeOnlyDeflateFactory(ServerPerMessageDeflateFactory):
    """The server's side: negotiates as websockets does; the extension is ``LargeOnlyDeflate``."""

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, made = super().process_request_params(params, accepted_extensions)
        return response, _large_only(made, self.compress_settings)


class ClientLargeOnlyDeflateFactory(ClientPerMessageDeflateFactory):
    """The reader's side: offers permessage-deflate as websockets' client does by
    default; the extension is ``LargeOnlyDeflate``."""

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> PerMessageDeflate:
        return _large_only(
            super().process_response_params(params, accepted_extensions), self.compress_settings
        )


def server_factory() -> LargeOnlyDeflateFactory:
    return LargeOnlyDeflateFactory(
        server_max_window_bits=WINDOW_BITS,
        client_max_window_bits=WINDOW_BITS,
        compress_settings=dict(COMPRESS_SETTINGS),
    )


def client_factory() -> ClientLargeOnlyDeflateFactory:
    """What websockets' client offers with ``compression="deflate"`` (its default)."""
    return ClientLargeOnlyDeflateFactory(
        client_max_window_bits=True, compress_settings=dict(COMPRESS_SETTINGS)
    )
