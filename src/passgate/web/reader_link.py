"""The reader link's web side: pairing, the pairing-code API, and the readers' WebSocket.

The WebSocket endpoint only moves frames: a reader's whole session (authentication, sync,
its messages) is ``services.reader_hub.serve_reader`` over the socket as a channel.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from fastapi import APIRouter, Path, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from passgate.services import reader_hub
from passgate.services.credentials import aliro_groups
from passgate.web import ws_server
from passgate.web.api import API_PREFIX
from passgate.web.api.crud import ERRORS
from passgate.web.deps import ActorDep, ContainerDep

ReaderId = Path(min_length=1, max_length=40)


class PairingCodeOut(BaseModel):
    reader_id: str
    code: str = Field(description="One-time code; shown once, valid for ten minutes")
    expires_at: datetime


class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(min_length=1, max_length=40)
    public_key: str = Field(min_length=1, max_length=400, description="P-256 public key, PEM")
    aliro_public_key: str = Field(
        min_length=130,
        max_length=130,
        description="The reader's own Aliro key: hex of the uncompressed P-256 point",
    )


class AliroOut(BaseModel):
    group_identifier: str = Field(description="Aliro reader group identifier (16 bytes, hex)")
    group_public_key: str = Field(description="The group's issuer key devices trust (hex point)")
    certificate: str = Field(description="Compressed reader certificate for the Aliro key (hex)")


class PairOut(BaseModel):
    reader_id: str
    org_id: str
    door_id: str
    server_public_key: str
    aliro: AliroOut


def _aliro_out(made: aliro_groups.ReaderCredentials) -> AliroOut:
    return AliroOut(
        group_identifier=made.group_identifier,
        group_public_key=made.group_public_key,
        certificate=made.certificate,
    )


class WebSocketChannel:
    """A reader's WebSocket as the hub's :class:`reader_hub.Channel`."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        # uvicorn with web.ws_server's protocol (as `passgate serve` runs): a direct send.
        extensions = ws.scope.get("extensions") or {}
        self._now: ws_server.SendNow | None = extensions.get(ws_server.SEND_NOW)

    async def send_text(self, text: str) -> None:
        now = self._now
        if now is not None and now(text):
            return
        try:
            await self._ws.send_text(text)
        except (RuntimeError, WebSocketDisconnect, OSError) as exc:
            raise reader_hub.ChannelClosed from exc

    async def receive(self) -> str | bytes:
        """The next frame, text or binary (starlette's receive_text raises KeyError on bytes)."""
        try:
            message = await self._ws.receive()
        except (RuntimeError, WebSocketDisconnect, OSError) as exc:
            raise reader_hub.ChannelClosed from exc
        if message["type"] == "websocket.disconnect":
            raise reader_hub.ChannelClosed
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def close(self, code: int) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await self._ws.close(code)


def _hub(ws: WebSocket) -> reader_hub.Hub:
    hub: reader_hub.Hub | None = getattr(ws.app.state, "reader_hub", None)
    if hub is None:
        hub = reader_hub.Hub(ws.app.state.container, ws.app.state.metrics)
        ws.app.state.reader_hub = hub
    return hub


def router() -> APIRouter:
    r = APIRouter()

    @r.post(
        f"{API_PREFIX}/readers/{{reader_id}}/pairing_code",
        response_model=PairingCodeOut,
        status_code=201,
        tags=["readers"],
        operation_id="create_reader_pairing_code",
        summary="A one-time code to pair a reader agent (shown once)",
        responses=ERRORS,
    )
    def pairing_code(
        reader_id: str = ReaderId, *, c: ContainerDep, who: ActorDep
    ) -> PairingCodeOut:
        made = c.pairing.new_code(who, reader_id).code
        return PairingCodeOut(reader_id=made.reader_id, code=made.code, expires_at=made.expires_at)

    @r.post(
        "/reader/v1/pair",
        response_model=PairOut,
        tags=["reader gateway"],
        operation_id="pair_reader",
        summary="A reader agent trades a pairing code for its identity",
        responses=ERRORS,
    )
    def pair(body: PairIn, c: ContainerDep) -> PairOut:
        done = c.pairing.pair(
            code=body.code, public_key=body.public_key, aliro_public_key=body.aliro_public_key
        )
        return PairOut(
            reader_id=done.reader_id,
            org_id=done.org_id,
            door_id=done.door_id,
            server_public_key=done.server_public_key,
            aliro=_aliro_out(done.aliro),
        )

    @r.websocket("/reader/v1/ws")
    async def reader_ws(ws: WebSocket) -> None:
        await ws.accept()
        await reader_hub.serve_reader(_hub(ws), WebSocketChannel(ws))

    return r
