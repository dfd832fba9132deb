"""The agent's link to the server: pairing over HTTP, then one authenticated WebSocket.

On connect the server sends a nonce, the agent signs it with its link key and says which
cache version it holds; the server answers with a snapshot and then deltas. Every frame
goes through ``proto.snapshot.CacheState``: a bad signature, a gap, a rollback or a
digest mismatch is refused and the agent asks for a fresh snapshot. Queued events go up
in batches and are deleted only when acknowledged; after a reconnect everything not yet
acknowledged is sent again (the server stores each (reader, sequence) once).

Besides the URL it was paired with, the agent can be given other URLs of the same
deployment (``fallback_urls``: several server processes on one database). When a
connection fails or drops, the next attempt goes to the next URL in turn, so a server
process that dies costs a reader one reconnect; the new server sends the current
snapshot, and what changed meanwhile is in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import websockets
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.errors import PassgateError
from passgate.proto import link as wire
from passgate.proto import snapshot as snap
from passgate.proto import unlock, ws_deflate
from passgate.proto.aliro import crypto
from passgate.reader.agent import ReaderAgent

log = logging.getLogger(__name__)
BATCH = 200
# The latest applied version is reported at most once per this many seconds (``Acks``):
# half a heartbeat. Each report costs the server about what sending a reader a frame
# does (received, parsed, written to reader_sync), and in a burst of changes every
# reader sends one per delay: at 10,000 readers with changes back to back, 2 s put a
# report beside about every third frame (bench revocation).
ACK_DELAY_S = 5.0


class Acks:
    """The agent's ``applied`` reports, coalesced: the latest version applied goes to
    the server ``delay`` seconds after the first one not yet reported, with every version
    applied meanwhile folded into it.

    The server needs the reader's latest version, not each one: it resumes a
    reconnecting reader from there. One report per change cost a message each way per
    reader per change (a burst of changes to ten thousand readers: ten thousand reports
    per change, received while the server still sends that change to the others).
    Coalesced, a reader reports at most once per ``delay``, however many changes
    arrive. A report not sent (the link dropped first) costs nothing: the reader says
    its version when it reconnects, and the server resumes it from the last version it
    recorded (services.reader_hub).
    """

    def __init__(self, send: Callable[[int], Awaitable[None]], delay: float = ACK_DELAY_S) -> None:
        self._send, self._delay = send, delay
        self._latest: int | None = None
        self._task: asyncio.Task[None] | None = None

    def applied(self, version: int) -> None:
        """``version`` is committed to the store: reported with the next report."""
        self._latest = version
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._report())

    async def _report(self) -> None:
        await asyncio.sleep(self._delay)
        version, self._latest = self._latest, None
        if version is not None:
            await self._send(version)

    def cancel(self) -> None:
        """The connection ends: a report still waiting is dropped (see above)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._latest = None


def pair(agent: ReaderAgent, server_url: str, code: str, *, timeout: float = 10.0) -> str:
    """Trade a pairing code for an identity; generates fresh link and Aliro keys."""
    link_key = ec.generate_private_key(ec.SECP256R1())
    aliro_key = ec.generate_private_key(ec.SECP256R1())
    response = httpx.post(
        server_url.rstrip("/") + "/reader/v1/pair",
        json={
            "code": code,
            "public_key": snap.public_pem(link_key),
            "aliro_public_key": crypto.public_bytes(aliro_key).hex(),
        },
        timeout=timeout,
    )
    if response.status_code != 200:
        raise PassgateError(f"pairing refused ({response.status_code}): {response.text[:200]}")
    body = response.json()
    snap.load_public_pem(body["server_public_key"], "server_public_key")
    agent.store.clear_cache()
    agent.store.put(
        {
            "server_url": server_url.rstrip("/"),
            "reader_id": body["reader_id"],
            "door_id": body["door_id"],
            "server_public_key": body["server_public_key"],
            "link_key": snap.private_pem(link_key).decode(),
            "aliro_key": snap.private_pem(aliro_key).decode(),
            "aliro_certificate": None,
            # A new pairing starts a new cache: nothing from a previous identity is kept.
            "version": None,
            "content": None,
            "synced_at": None,
        }
    )
    agent.version, agent.content, agent.view, agent.synced_at = 0, None, None, None
    agent.install_certificate(**body["aliro"])
    return str(body["reader_id"])


def ws_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    scheme, rest = base.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/reader/v1/ws"


class SyncClient:
    def __init__(
        self,
        agent: ReaderAgent,
        *,
        status: wire.ReaderStatus | None = None,
        idle_s: float = 0.05,
        fallback_urls: list[str] | None = None,
        ack_delay_s: float = ACK_DELAY_S,
    ) -> None:
        self.agent = agent
        self.ack_delay_s = ack_delay_s
        self._acks: Acks | None = None
        self.fallback_urls = [u.rstrip("/") for u in fallback_urls or []]
        self._turn = 0  # which of the URLs the next attempt uses
        self.url: str | None = None  # the server of the current (or last) connection
        self.status = status or wire.ReaderStatus()
        self.idle_s = idle_s
        self.connected = asyncio.Event()
        self.rejections: list[str] = []
        self.accepted = 0
        self._events_waiting = threading.Event()
        self._events_waiting.set()  # a restart may have left events queued
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.stopped = False
        # This connection's server key and the unlock commands taken on it (replays).
        self._server_key: ec.EllipticCurvePublicKey | None = None
        self._unlocks: set[str] = set()

    def notify_event(self) -> None:
        """Called from any thread when the agent queued an event."""
        self._events_waiting.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        delay = 0.05
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = 0.05
            except (OSError, websockets.WebSocketException, PassgateError, TimeoutError) as exc:
                log.info("reader link to %s down: %s", self.url, exc)
            self.connected.clear()
            self._turn += 1  # the next attempt tries the next server, if there are several
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 2.0)
        self.stopped = True

    async def _session(self, stop: asyncio.Event) -> None:
        agent = self.agent
        store = agent.store
        reader_id = agent.reader_id
        server_key_pem = store.get("server_public_key")
        link_pem = store.get("link_key")
        paired_url = store.get("server_url")
        if not (reader_id and server_key_pem and link_pem and paired_url):
            raise PassgateError("the agent is not paired")
        urls = [paired_url, *(u for u in self.fallback_urls if u != paired_url)]
        url = self.url = urls[self._turn % len(urls)]
        link_key = snap.load_private_pem(link_pem.encode())
        self._server_key, self._unlocks = snap.load_public_pem(server_key_pem), set()
        # Ours for this connection only: the server's frames and heartbeats must echo it.
        link_nonce = secrets.token_urlsafe(24)
        state = snap.CacheState(
            reader_id,
            snap.load_public_pem(server_key_pem),
            version=agent.version,
            content=agent.content,
            link_nonce=link_nonce,
            validate=agent.check,
        )
        async with websockets.connect(
            ws_url(url),
            max_size=snap.MAX_FRAME_BYTES,
            # permessage-deflate as websockets offers it, small messages sent as they are.
            extensions=[ws_deflate.client_factory()],
        ) as ws:
            challenge = wire.decode(await asyncio.wait_for(ws.recv(), 10))
            if not isinstance(challenge, wire.Challenge):
                raise PassgateError("expected a challenge")
            signature = snap.sign(link_key, snap.auth_message(challenge.nonce, reader_id))
            auth = wire.Auth(
                reader_id=reader_id,
                reader_nonce=link_nonce,
                signature=signature,
                version=agent.version,
                # With the version: the server may send only what changed since.
                digest=state.digest,
                shared_deltas=True,  # takes deltas signed once for many readers
                status=self.status,
            )
            await ws.send(wire.encode(auth))
            await self._request_certificate(ws)
            sender = asyncio.create_task(self._send_events(ws, stop))

            async def report(version: int) -> None:
                # A link that closed meanwhile ends the session anyway; the version is
                # said again at the reconnect (Acks).
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.send(wire.encode(wire.Applied(version=version)))

            self._acks = Acks(report, self.ack_delay_s)
            try:
                await self._receive(ws, state, stop)
            finally:
                self._acks.cancel()
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def _receive(self, ws: Any, state: snap.CacheState, stop: asyncio.Event) -> None:
        stopper = asyncio.create_task(stop.wait())
        try:
            while True:
                receiver = asyncio.create_task(ws.recv())
                done, _ = await asyncio.wait(
                    {receiver, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                if stopper in done:
                    receiver.cancel()
                    return
                await self._handle(ws, state, receiver.result())
        finally:
            stopper.cancel()

    async def _handle(self, ws: Any, state: snap.CacheState, text: Any) -> None:
        try:
            msg = wire.decode(text)
        except PassgateError:
            self.rejections.append("malformed")
            return
        if isinstance(msg, wire.Signed):
            await self._signed(ws, state, msg)
        elif isinstance(msg, wire.AliroCertificate):
            try:
                self.agent.install_certificate(
                    group_identifier=msg.group_identifier,
                    group_public_key=msg.group_public_key,
                    certificate=msg.certificate,
                )
            except PassgateError:
                self.rejections.append("certificate")
        elif isinstance(msg, wire.Ack):
            await asyncio.to_thread(self.agent.store.delete_events, msg.sequences)
        elif isinstance(msg, wire.Error):
            log.warning("server refused a message: %s", msg.code)

    async def _signed(self, ws: Any, state: snap.CacheState, msg: wire.Signed) -> None:
        if msg.type == "heartbeat":
            if state.confirms(msg.frame):
                self.agent.confirm_synced(msg.frame["version"])
                # The answer tells the server this reader is alive (its last seen).
                await ws.send(wire.encode(wire.Ping()))
        elif msg.type == "unlock":
            await self._unlock(ws, state, msg.frame)
        else:
            verdict = state.receive(msg.frame)
            if isinstance(verdict, snap.Pending):
                return  # a snapshot in parts: the rest follows
            if isinstance(verdict, snap.Accepted):
                if verdict.changes is None:
                    self.agent.apply(verdict.version, verdict.content)
                else:
                    self.agent.apply_changes(verdict.version, verdict.content, verdict.changes)
                # Committed to the store: the server records this version as applied here.
                assert self._acks is not None
                self._acks.applied(verdict.version)
                self.accepted += 1
                self.connected.set()
                await self._request_certificate(ws)  # a cleared tamper made a new key
            else:
                self.rejections.append(verdict.reason)
                await ws.send(wire.encode(wire.Resync(reason=verdict.reason)))

    async def _unlock(self, ws: Any, state: snap.CacheState, msg: dict[str, Any]) -> None:
        """A remote unlock: only a frame signed by the server for this reader and this
        connection, unexpired and not seen before on it, reaches the relay."""
        key = self._server_key
        if key is None:
            return
        verdict = unlock.check_unlock(
            key,
            msg,
            reader_id=state.reader_id,
            link_nonce=state.link_nonce,
            now_ms=int(self.agent.clock().timestamp() * 1000),
            taken=self._unlocks,
        )
        if isinstance(verdict, unlock.Refused):
            self.rejections.append(f"unlock_{verdict.reason}")
            if verdict.answerable:
                answer = wire.UnlockResult(
                    command_id=msg["command_id"], ok=False, reason=verdict.reason
                )
                await ws.send(wire.encode(answer))
            return
        ok, reason = await asyncio.to_thread(self.agent.remote_unlock, verdict)
        answer = wire.UnlockResult(command_id=verdict.command_id, ok=ok, reason=reason)
        await ws.send(wire.encode(answer))

    async def _request_certificate(self, ws: Any) -> None:
        key = self.agent.aliro_public_key
        if key is not None:
            await ws.send(wire.encode(wire.AliroKey(public_key=key)))

    async def _send_events(self, ws: Any, stop: asyncio.Event) -> None:
        sent_up_to = 0
        assert self._wake is not None
        while not stop.is_set():
            if self._events_waiting.is_set():
                self._events_waiting.clear()
                while True:
                    batch = await asyncio.to_thread(
                        self.agent.store.pending_events, BATCH, sent_up_to
                    )
                    if not batch:
                        break
                    # The store holds the items as the agent wrote them; the schema
                    # types them on the way out, as the server does on the way in.
                    events = wire.Events.model_validate_json(json.dumps({"items": batch}))
                    await ws.send(wire.encode(events))
                    sent_up_to = batch[-1]["sequence"]
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_s * 20)
