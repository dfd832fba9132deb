"""The reader gateway: pairing, the pairing-code API, and the readers' WebSocket.

Fan-out runs inside the API process: a hub of connected readers wakes every
``reader_poll_interval_s`` (and whenever a "reader" outbox row appears), rebuilds the
cache content of the organizations that have readers connected, and sends each reader
whose content changed a signed delta. Content is compared by digest, so any change
reaches readers whatever service made it, with no coupling to the other areas.

Scaling out on PostgreSQL: every API process runs its own hub for its own connections
and polls the database (one set of queries per organization per tick). The outbox rows
only shorten the wait; a process that misses one still finds the change on its next
tick. LISTEN/NOTIFY on the outbox insert would replace the tick with a push; the hub's
``wake`` is where it would plug in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from passgate.bootstrap import Container
from passgate.domain.errors import PassgateError, Unauthenticated
from passgate.proto import snapshot as snap
from passgate.services import reader_events, reader_gateway, reader_snapshot
from passgate.web.api import API_PREFIX
from passgate.web.api.crud import ERRORS
from passgate.web.deps import ActorDep, ContainerDep

READER_TOPIC = "reader"
AUTH_TIMEOUT_S = 10.0
ReaderId = Path(min_length=1, max_length=40)


class PairingCodeOut(BaseModel):
    reader_id: str
    code: str = Field(description="One-time code; shown once, valid for ten minutes")
    expires_at: datetime


class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(min_length=1, max_length=40)
    public_key: str = Field(min_length=1, max_length=400, description="P-256 public key, PEM")


class PairOut(BaseModel):
    reader_id: str
    org_id: str
    door_id: str
    group_identifier: str
    server_public_key: str


def next_version(previous: int) -> int:
    # Time-derived and strictly increasing: survives server restarts without a counter.
    return max(previous + 1, time.time_ns() // 1000)


@dataclass(eq=False)
class Link:
    ws: WebSocket
    reader_id: str
    org_id: str
    version: int
    content: dict[str, Any] | None = None
    digest: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent_at: float = 0.0

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(snap.encode_message(message))


class Hub:
    """Connected readers of this process, and the loop that keeps their caches current."""

    def __init__(self, container: Container) -> None:
        self._c = container
        self._links: dict[str, Link] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # One refresh at a time: each builds deltas on the versions the previous one set.
        self._refreshing = asyncio.Lock()

    def add(self, link: Link) -> None:
        old = self._links.get(link.reader_id)
        if old is not None:
            # One live connection per reader: the newest wins, the old one is dropped.
            asyncio.get_running_loop().create_task(_close(old.ws, 4409))
        self._links[link.reader_id] = link
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, link: Link) -> None:
        if self._links.get(link.reader_id) is link:
            del self._links[link.reader_id]
        if not self._links and self._task is not None:
            self._task.cancel()
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        interval = self._c.settings.reader_poll_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            await asyncio.to_thread(self._drain_outbox)
            orgs = {link.org_id for link in self._links.values()}
            for org_id in orgs:
                await self.refresh(org_id)

    def _drain_outbox(self) -> None:
        # The rows only wake us; the content itself is rebuilt from the database.
        now = self._c.clock.now()
        with self._c.uow_factory(None) as uow:
            for message in uow.outbox.claim(
                READER_TOPIC, worker_id="reader-hub", now=now, lease_s=30, limit=500
            ):
                assert message.id is not None
                uow.outbox.mark_delivered(message.id, now)

    async def refresh(self, org_id: str, force: Link | None = None) -> None:
        links = [link for link in self._links.values() if link.org_id == org_id]
        if force is not None and force not in links:
            links.append(force)
        if not links:
            return
        async with self._refreshing:
            frames = await asyncio.to_thread(self._frames, org_id, links, force)
        heartbeat_s = self._c.settings.reader_heartbeat_s
        now = time.monotonic()
        sends = []
        for link, frame in frames:
            if frame is None:
                sends.append(_close(link.ws, 4403))
            elif frame["type"] != "heartbeat" or now - link.sent_at >= heartbeat_s:
                link.sent_at = now
                sends.append(_safe_send(link, frame))
        await asyncio.gather(*sends)

    def _frames(
        self, org_id: str, links: list[Link], force: Link | None
    ) -> list[tuple[Link, dict[str, Any] | None]]:
        c = self._c
        now = c.clock.now()
        with c.uow_factory(org_id) as uow:
            key = reader_gateway.org_key(uow, org_id, c.secret_box, now)
            contents = reader_snapshot.contents_for(uow, org_id, [x.reader_id for x in links], now)
        private = reader_gateway.signing_key(key, c.secret_box)
        out: list[tuple[Link, dict[str, Any] | None]] = []
        for link in links:
            content = contents.get(link.reader_id)
            if content is None:
                out.append((link, None))
                continue
            digest = snap.digest(content)
            if link is not force and digest == link.digest and link.content is not None:
                beat = {"type": "heartbeat", "reader_id": link.reader_id, "version": link.version}
                beat["sig"] = snap.sign(private, snap.canonical(beat))
                out.append((link, beat))
                continue
            version = next_version(link.version)
            if link is force or link.content is None:
                frame = snap.make_frame(
                    private,
                    kind="snapshot",
                    reader_id=link.reader_id,
                    version=version,
                    body=content,
                    result_digest=digest,
                )
            else:
                frame = snap.make_frame(
                    private,
                    kind="delta",
                    reader_id=link.reader_id,
                    version=version,
                    base_version=link.version,
                    body=snap.diff(link.content, content),
                    result_digest=digest,
                )
            link.version, link.content, link.digest = version, content, digest
            out.append((link, frame))
        return out


async def _close(ws: WebSocket, code: int) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await ws.close(code)


async def _safe_send(link: Link, message: dict[str, Any]) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await link.send(message)


def _hub(ws: WebSocket) -> Hub:
    hub: Hub | None = getattr(ws.app.state, "reader_hub", None)
    if hub is None:
        hub = Hub(ws.app.state.container)
        ws.app.state.reader_hub = hub
    return hub


async def _authenticate(ws: WebSocket, c: Container) -> tuple[str, dict[str, Any]] | None:
    nonce = reader_gateway.new_nonce()
    await ws.send_text(snap.encode_message({"type": "challenge", "nonce": nonce}))
    try:
        text = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        msg = snap.parse_message(text)
        if msg["type"] != "auth":
            raise Unauthenticated("expected auth")
        org_id = await asyncio.to_thread(
            reader_gateway.authenticate,
            c.uow_factory,
            c.reader_directory,
            reader_id=msg["reader_id"],
            nonce=nonce,
            signature=msg["signature"],
        )
    except (TimeoutError, PassgateError, KeyError):
        await ws.send_text(snap.encode_message({"type": "error", "code": "unauthenticated"}))
        await _close(ws, 4401)
        return None
    return org_id, msg


async def _serve(ws: WebSocket, c: Container, hub: Hub, link: Link) -> None:
    while True:
        text = await ws.receive_text()
        try:
            msg = snap.parse_message(text)
            kind = msg["type"]
            if kind == "events":
                items = reader_events.parse_items(msg["items"])
                acked = await asyncio.to_thread(_ingest, c, link, items)
                await link.send({"type": "ack", "sequences": acked})
                if any(item.kind == "tamper" for item in items):
                    hub.wake()
            elif kind == "resync":
                await hub.refresh(link.org_id, force=link)
            elif kind == "status":
                await asyncio.to_thread(_status, c, link, msg["status"], True)
            elif kind != "ping":
                raise snap.SnapshotError("unexpected message type", field="type")
        except PassgateError as exc:
            # A peer's garbage gets an error message, never a dropped process or a 500.
            await link.send({"type": "error", "code": "bad_message", "field": exc.field or ""})


def _ingest(c: Container, link: Link, items: list[reader_events.ReaderEvent]) -> list[int]:
    with c.uow_factory(link.org_id) as uow:
        return reader_events.ingest(uow, link.reader_id, items, c.clock.now())


def _status(c: Container, link: Link, status: dict[str, Any] | None, online: bool) -> None:
    with c.uow_factory(link.org_id) as uow:
        reader_events.set_status(uow, link.reader_id, status, online=online, now=c.clock.now())


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
        with c.uow_factory(who.require_org()) as uow:
            made = reader_gateway.create_pairing_code(uow, who, reader_id, c.clock.now())
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
        done = reader_gateway.pair(
            c.uow_factory,
            c.reader_directory,
            c.secret_box,
            code=body.code,
            public_key=body.public_key,
            now=c.clock.now(),
        )
        return PairOut(
            reader_id=done.reader_id,
            org_id=done.org_id,
            door_id=done.door_id,
            group_identifier=done.group_identifier,
            server_public_key=done.server_public_key,
        )

    @r.websocket("/reader/v1/ws")
    async def reader_ws(ws: WebSocket) -> None:
        c: Container = ws.app.state.container
        await ws.accept()
        try:
            authed = await _authenticate(ws, c)
        except (WebSocketDisconnect, RuntimeError):
            return
        if authed is None:
            return
        org_id, hello = authed
        hub = _hub(ws)
        link = Link(ws, hello["reader_id"], org_id, version=max(0, int(hello["version"])))
        hub.add(link)
        try:
            await asyncio.to_thread(_status, c, link, hello["status"], True)
            await hub.refresh(org_id, force=link)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                # A disconnect ends the session normally; cleanup follows either way.
                await _serve(ws, c, hub, link)
        finally:
            hub.remove(link)
            with contextlib.suppress(PassgateError):
                await asyncio.to_thread(_status, c, link, None, False)

    return r
