"""A deployment and a fleet of light reader clients, for the reader-link benchmarks.

The deployment: a fresh database (SQLite in a temporary directory, or PostgreSQL), an
organization seeded by bulk inserts (``credentials`` members, each with an Apple Pass
and an iPhone key, all with access to the door), ``readers`` readers with pairing
codes, and ``processes`` server processes (uvicorn, as ``passgate serve`` runs it) on
loopback ports.

The fleet: reader clients spread over worker processes, many per process (asyncio).
Each is a real reader as far as the server can tell: it pairs through
``/reader/v1/pair`` with its own link key, answers the challenge, and takes every frame
through ``proto.snapshot.CacheState`` (signature, nonce, version chain, digest), the
same code the agent uses, keeping the content in memory (not in the agent's SQLite
store). After each accepted frame it judges the watched key with
``domain.reader_cache.decide_tap`` over the rows that key needs, and records when the
verdict first equals what the parent waits for. Like the agent it says it takes shared
deltas (one signature for every reader in the same state), reports the latest accepted
frame ``applied`` at most every ``reader.sync.ACK_DELAY_S``, and answers heartbeats (the
server then records its "last seen"). Its WebSocket is websockets' sans-I/O client
protocol on an asyncio transport (``_LightLink``, on uvloop where installed), offering
compression as the agent's client does; each frame is handled as it arrives, with no
task or queue per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import multiprocessing
import os
import secrets
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any, cast

import click
import httpx
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from passgate.bench import stop
from passgate.domain.access import UnlockMethod
from passgate.domain.reader_cache import decide_tap, parse_credential, parse_header, parse_member
from passgate.proto import snapshot as snap
from passgate.proto import ws_deflate
from passgate.reader.sync import ACK_DELAY_S

CHUNK = 5_000
FULL_MODEL = "reader_pro_2_1"  # receives Apple Pass keys (R13)
SMALL_MODEL = "reader_pro_2_0"  # receives its readiness verdict only (no Apple Pass keys)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(database_url: str, port: int, operator: str, secret: str, deflate: bool) -> None:
    """One server process (runs in a spawned child)."""
    import uvicorn

    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.web.app import create_app
    from passgate.web.ws_server import PassgateWebSockets

    settings = Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=operator,
        secret_key=secret,
        metrics_enabled=False,
        in_process_worker=False,
    )
    container = build_container(settings)
    uvicorn.run(
        create_app(container),
        host="127.0.0.1",
        port=port,
        log_level="error",
        ws_per_message_deflate=deflate,
        ws=PassgateWebSockets,  # as `passgate serve` runs it
    )


@dataclass
class Seeded:
    org_id: str
    token: str
    door_id: str
    codes: list[str]  # one per reader, in reader order
    watched_key: str  # the key id whose pass the benchmark suspends
    watched_pass: str
    full_readers: int


def seed(database_url: str, *, readers: int, credentials: int, full_readers: int) -> Seeded:
    """The organization, its door and readers (with pairing codes) and its credentials."""
    import sqlalchemy as sa
    from cryptography.hazmat.primitives.asymmetric import ec

    from passgate.adapters.db import tables as t
    from passgate.adapters.db.engine import create_engine
    from passgate.adapters.db.repository import SqlUnitOfWork
    from passgate.domain import model as m
    from passgate.proto.aliro import crypto
    from passgate.services.actors import Actor, ActorKind
    from passgate.services.auth.apikeys import create_api_key
    from passgate.services.readers import reader_gateway

    engine = create_engine(database_url)
    now = datetime.now(UTC)
    org = m.Organization(id=m.new_id("org"), name="Bench", slug="bench", created_at=now)
    org.sso_enforced = org.mfa_required = True  # eligible for Apple Passes (R13)
    with SqlUnitOfWork(engine, None) as uow:
        uow.organizations.add(org)
    operator = Actor(
        kind=ActorKind.OPERATOR, id="operator", name="operator", org_id=None, role="operator"
    )
    with SqlUnitOfWork(engine, org.id) as uow:
        token = create_api_key(
            uow, operator, org_id=org.id, name="bench", role="admin", now=now
        ).token
        uow.repo(m.SsoConnection).add(
            m.SsoConnection(m.new_id("sso"), org.id, "oidc", True, {}, None, ["otp"], now, now)
        )
        uow.repo(m.Subscription).add(
            m.Subscription(
                m.new_id("sub"), org.id, "apple_pass", "active", now - timedelta(days=1), None, now
            )
        )
    place, door, group = m.new_id("plc"), m.new_id("door"), m.new_id("grp")
    reader_ids = [m.new_id("rdr") for _ in range(readers)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.places),
            [
                {
                    "id": place,
                    "org_id": org.id,
                    "name": "HQ",
                    "timezone": "UTC",
                    "address": None,
                    "created_at": now,
                }
            ],
        )
        conn.execute(
            sa.insert(t.doors),
            [
                {
                    "id": door,
                    "org_id": org.id,
                    "place_id": place,
                    "name": "Door",
                    "timezone": "UTC",
                    "lockdown": False,
                    "staleness_limit_s": 86400,
                    "schedule_id": None,
                    "created_at": now,
                }
            ],
        )
        conn.execute(
            sa.insert(t.groups),
            [
                {
                    "id": group,
                    "org_id": org.id,
                    "name": "All",
                    "description": None,
                    "schedule_id": None,
                    "created_at": now,
                }
            ],
        )
        conn.execute(
            sa.insert(t.group_doors), [{"org_id": org.id, "group_id": group, "door_id": door}]
        )
        for start in range(0, readers, CHUNK):
            conn.execute(
                sa.insert(t.readers),
                [
                    {
                        "id": r,
                        "org_id": org.id,
                        "door_id": door,
                        "name": f"Reader {start + i}",
                        "model": FULL_MODEL if start + i < full_readers else SMALL_MODEL,
                        "firmware": "2.1.0",
                        "tamper_protection": True,
                        "tampered": False,
                        "online": False,
                        "last_seen_at": None,
                        "created_at": now,
                    }
                    for i, r in enumerate(reader_ids[start : start + CHUNK])
                ],
            )
    watched = crypto.public_bytes(ec.generate_private_key(ec.SECP256R1()))
    watched_key = hashlib.sha256(watched).hexdigest()
    watched_pass = ""
    with click.progressbar(
        length=credentials, label=f"seeding {credentials:,} credentials", file=sys.stderr
    ) as bar:
        for start in range(0, credentials, CHUNK):
            members, passes, devices, rights = [], [], [], []
            for i in range(start, min(credentials, start + CHUNK)):
                mid, pid = f"mbr_b{i:010d}", f"pass_b{i:010d}"
                public, key_id = ("04" + f"{i:0128x}", f"{i:064x}")
                if i == 0:
                    public, key_id, watched_pass = watched.hex(), watched_key, pid
                members.append(
                    {
                        "id": mid,
                        "org_id": org.id,
                        "email": f"p{i}@bench.example",
                        "display_name": f"Person {i}",
                        "role": "member",
                        "status": "active",
                        "external_id": None,
                        "created_at": now,
                    }
                )
                passes.append(
                    {
                        "id": pid,
                        "org_id": org.id,
                        "member_id": mid,
                        "serial_number": f"ser_b{i:010d}",
                        "status": "active",
                        "created_at": now,
                        "updated_at": now,
                        "suspended_at": None,
                        "deleted_at": None,
                        "last_used_at": None,
                    }
                )
                devices.append(
                    {
                        "id": f"pdev_b{i:010d}",
                        "org_id": org.id,
                        "pass_id": pid,
                        "kind": "iphone",
                        "device_id": f"iphone-{i}",
                        "model": "iPhone16,1",
                        "os_version": "18.1",
                        "app_version": "1.0",
                        "public_key": public,
                        "key_id": key_id,
                        "status": "active",
                        "paired_device_id": None,
                        "added_at": now,
                        "replaced_at": None,
                        "last_used_at": None,
                    }
                )
                rights.append(
                    {
                        "id": f"acr_b{i:010d}",
                        "org_id": org.id,
                        "member_id": mid,
                        "group_id": group,
                        "valid_from": None,
                        "valid_until": None,
                        "created_at": now,
                    }
                )
            with engine.begin() as conn:
                conn.execute(sa.insert(t.members), members)
                conn.execute(sa.insert(t.apple_passes), passes)
                conn.execute(sa.insert(t.pass_devices), devices)
                conn.execute(sa.insert(t.access_rights), rights)
            bar.update(len(members))
    admin = Actor(kind=ActorKind.API_KEY, id="bench", name="bench", org_id=org.id, role="admin")
    codes: list[str] = []
    with click.progressbar(
        length=readers, label=f"pairing codes for {readers:,} readers", file=sys.stderr
    ) as bar:
        for start in range(0, readers, 500):
            with SqlUnitOfWork(engine, org.id) as uow:
                codes.extend(
                    reader_gateway.create_pairing_code(uow, admin, r, now).code
                    for r in reader_ids[start : start + 500]
                )
            bar.update(len(reader_ids[start : start + 500]))
    engine.dispose()
    return Seeded(org.id, token, door, codes, watched_key, watched_pass, full_readers)


@contextlib.contextmanager
def deployment(
    database_url: str, processes: int, operator: str, secret: str, *, deflate: bool = True
) -> Iterator[list[tuple[str, int]]]:
    """``processes`` server processes; yields (base URL, pid) of each."""
    ctx = multiprocessing.get_context("spawn")
    started = []
    try:
        for _ in range(processes):
            port = free_port()
            proc = ctx.Process(
                target=serve, args=(database_url, port, operator, secret, deflate), daemon=True
            )
            proc.start()
            started.append((f"http://127.0.0.1:{port}", proc))
        for base, proc in started:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass  # not listening yet
                if not proc.is_alive() or time.monotonic() > deadline:
                    raise click.ClickException(f"the server at {base} did not start")
                time.sleep(0.05)
        yield [(base, int(proc.pid or 0)) for base, proc in started]
    finally:
        for _, proc in started:
            proc.terminate()
        for _, proc in started:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- the light reader -------------------------------------------------------------------


@dataclass(eq=False)
class LightReader:
    index: int
    base: str
    code: str
    watched_key: str
    reader_id: str = ""
    server_key: Any = None
    server_pem: str = ""
    link_key: Any = None
    state: Any = None
    synced_at: float | None = None  # monotonic time of the first complete snapshot
    connected_at: float = 0.0
    reason: str | None = None
    frames: int = 0
    snapshots: int = 0  # complete snapshots taken (a resumed reader should take none)
    rejected: list[str] = field(default_factory=list)  # frames refused, with the reason
    lost: list[str] = field(default_factory=list)  # connections that ended, with the error
    # A cache to start from (version, content, shares): the worker's template reader's
    # content with this reader's own section, which the database records it applied.
    preset: tuple[int, dict[str, Any], dict[str, int]] | None = None
    # The parsed small sections (org, door, reader) and the raw objects they came from:
    # like the agent, which re-parses only what a delta changed, a frame that leaves
    # them as they were is judged without parsing them again.
    header: tuple[tuple[Any, ...], Any, dict[str, Any], dict[str, Any]] | None = None


PAIRING_AT_ONCE = 16


async def _pair(http: httpx.AsyncClient, reader: LightReader) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from passgate.proto import snapshot as snap
    from passgate.proto.aliro import crypto

    reader.link_key = ec.generate_private_key(ec.SECP256R1())
    aliro = crypto.public_bytes(ec.generate_private_key(ec.SECP256R1())).hex()
    body = {
        "code": reader.code,
        "public_key": snap.public_pem(reader.link_key),
        "aliro_public_key": aliro,
    }
    for attempt in range(5):
        try:
            r = await http.post(reader.base + "/reader/v1/pair", json=body)
        except httpx.TransportError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.5)
            continue
        if r.status_code != 200:
            raise click.ClickException(f"pairing refused ({r.status_code}): {r.text[:200]}")
        made = r.json()
        reader.reader_id = made["reader_id"]
        reader.server_pem = made["server_public_key"]
        reader.server_key = snap.load_public_pem(reader.server_pem, "server_public_key")
        return


# Rows parsed, by the identity of the row object they were parsed from: the readers of a
# worker hold one shared section (SharedSections), so after a change they hold the very
# same row objects, and the row is parsed once per worker rather than once per reader
# (each reader's decision still runs on its own view). Holding the row keeps its id.
_ROWS_PARSED: dict[tuple[str, int], tuple[Any, Any]] = {}


def _parsed(parse: Callable[[str, Any], Any], key: str, raw: Any) -> Any:
    memo = (key, id(raw))
    found = _ROWS_PARSED.get(memo)
    if found is not None and found[0] is raw:
        return found[1]
    if len(_ROWS_PARSED) > 1_000:
        _ROWS_PARSED.clear()
    value = parse(key, raw)
    _ROWS_PARSED[memo] = (raw, value)
    return value


def _reason(content: dict[str, Any], key_id: str, reader: LightReader | None = None) -> str:
    """The reader's decision for ``key_id``, from the rows that decision reads (the small
    sections parsed again only when they are other objects than last time)."""
    creds, members = {}, {}
    raw = content.get("credentials", {}).get(key_id)
    if raw is not None:
        cred = creds[key_id] = _parsed(parse_credential, key_id, raw)
        member_raw = content.get("members", {}).get(cred.view.member_id)
        if member_raw is not None:
            members[cred.view.member_id] = _parsed(parse_member, cred.view.member_id, member_raw)
    raw_header = (content.get("org"), content.get("door"), content.get("reader"))
    held = reader.header if reader is not None else None
    if held is not None and all(a is b for a, b in zip(held[0], raw_header, strict=True)):
        # The reader's own view, its row maps refilled (dataclasses.replace cost more
        # than the rest of the lookup).
        _, view, held_creds, held_members = held
        held_creds.clear()
        held_creds.update(creds)
        held_members.clear()
        held_members.update(members)
    else:
        view = parse_header(content, creds, members)
        if reader is not None:
            # Holding the objects keeps their identity; the maps are the view's own.
            reader.header = (raw_header, view, creds, members)
    now = datetime.now(UTC)
    verdict = decide_tap(
        view, key_id=key_id, method=UnlockMethod.NFC, now=now, synced_at=now, halted=False
    )
    return verdict.decision.reason.value


class SharedSections:
    """The large sections (credentials, members) the readers of one worker process hold.

    Ten thousand readers of an organization with 100,000 credentials hold the same rows;
    a copy each would not fit in memory. Each reader keeps its own top-level content
    (its small sections are its own) whose large sections are shared objects, found by
    (section, digest share): a delta never changes a shared section in place, the
    first reader to take it makes the new section (a copy with the rows changed) and
    every reader taking the same change after it gets that same object.

    Also memoizes the signature check of shared statements (``shared_delta``): the one
    frame the server signs for every reader in the same state arrives byte-identical at
    each of them, and each real reader checks it on its own hardware; here one check per
    worker process stands for them (the benchmark measures the server). Every other
    check (body hash, base version and shares, digest, nonce, rollback) runs per reader.
    """

    KEEP = 64  # distinct sections kept findable (older ones live on in their holders)

    def __init__(self) -> None:
        self._sections: dict[tuple[str, int], dict[str, Any]] = {}
        self._verified: dict[tuple[str, str, bytes], bool] = {}

    def find(self, name: str, share: int) -> dict[str, Any] | None:
        return self._sections.get((name, share))

    def keep(self, name: str, share: int, section: dict[str, Any]) -> dict[str, Any]:
        """The shared object for this section (``section`` itself if it is the first)."""
        found = self._sections.setdefault((name, share), section)
        while len(self._sections) > self.KEEP:
            del self._sections[next(iter(self._sections))]
        return found

    def verified(self, key_pem: str, sig: str, message: bytes, check: Any) -> bool:
        memo = (key_pem, sig, message)
        found = self._verified.get(memo)
        if found is None:
            if len(self._verified) > 10_000:
                self._verified.clear()
            found = self._verified[memo] = bool(check())
        return found


SHARED_MIN_ROWS = 64  # sections smaller than this stay each reader's own


class LightCache(snap.CacheState):
    """A ``proto.snapshot.CacheState`` whose large sections are shared (see SharedSections)."""

    def __init__(
        self,
        reader_id: str,
        server_key: Any,
        key_pem: str,
        shared: SharedSections,
        link_nonce: str,
    ) -> None:
        super().__init__(reader_id, server_key, link_nonce=link_nonce)
        self._key_pem, self._sections = key_pem, shared

    def _verify(self, sig: str, message: bytes) -> bool:
        if not message.startswith(snap.SHARED_CONTEXT):
            return super()._verify(sig, message)
        return self._sections.verified(
            self._key_pem, sig, message, lambda: super(LightCache, self)._verify(sig, message)
        )

    def _apply(self, body: dict[str, Any], sums: dict[str, int | None]) -> None:
        content = self.content
        assert content is not None
        sets, unsets = body.get("set", {}), body.get("unset", {})
        for name in {*sets, *unsets}:
            share = sums[name]
            section = None if share is None else self._sections.find(name, share)
            if section is None:
                section = dict(content[name])  # never changed in place: others hold it
                section.update(sets.get(name, {}))
                for key in unsets.get(name, []):
                    section.pop(key, None)
                if share is not None and len(section) >= SHARED_MIN_ROWS:
                    section = self._sections.keep(name, share, section)
            content[name] = section
        content.update(body.get("replace", {}))
        for name in body.get("drop", []):
            content.pop(name, None)

    def _take_snapshot(
        self, version: int, content: dict[str, Any], wanted: str
    ) -> snap.Accepted | snap.Rejected:
        verdict = super()._take_snapshot(version, content, wanted)
        if isinstance(verdict, snap.Accepted):
            for name, value in list(content.items()):
                if isinstance(value, dict) and len(value) >= SHARED_MIN_ROWS:
                    content[name] = self._sections.keep(name, self._sums[name], value)
        return verdict

    def adopt(self, version: int, content: dict[str, Any], sums: dict[str, int]) -> None:
        """Hold ``content`` at ``version`` (the caller computed its shares)."""
        self.version, self.content, self._sums = version, content, dict(sums)

    def held(self) -> tuple[int, dict[str, Any], dict[str, int]]:
        assert self.content is not None
        return self.version, self.content, self._sums


class Fleet:
    """The readers of one worker process, and what the parent asked to watch for."""

    def __init__(self, readers: list[LightReader], conn: Connection) -> None:
        self.readers = readers
        self.shared = SharedSections()
        self.conn = conn
        self.wanted: str | None = None
        self.reached: dict[int, float] = {}
        self.reported = True

    def judge(self, reader: LightReader) -> None:
        content = reader.state.content
        if content is None:
            return
        reader.reason = _reason(content, reader.watched_key, reader)
        if self.wanted is not None and reader.reason == self.wanted:
            self.reached.setdefault(reader.index, time.monotonic())
            self.report_if_done()

    def arm(self, wanted: str) -> None:
        self.wanted, self.reported = wanted, False
        self.reached = {r.index: time.monotonic() for r in self.readers if r.reason == wanted}
        self.conn.send(("armed",))
        self.report_if_done()

    def report_if_done(self) -> None:
        if not self.reported and len(self.reached) == len(self.readers):
            self.reported = True
            self.conn.send(("done", list(self.reached.values())))


class _LightLink(asyncio.Protocol):
    """One light reader's WebSocket: websockets' sans-I/O client protocol on an asyncio
    transport. Frames are handled as they arrive (``data_received``), with no task,
    queue or future per message; ten thousand readers on two cores cannot afford the
    asyncio client's per-message machinery (about twice the reader's own work per
    frame). Pings are answered by the protocol; text messages go to ``on_text``.
    """

    def __init__(self, uri: str, on_text: Callable[[_LightLink, str], None]) -> None:
        loop = asyncio.get_running_loop()
        self.ws = ClientProtocol(
            parse_uri(uri),
            # As the agent's client does: offer compression, send small messages as they are.
            extensions=[ws_deflate.client_factory()],
            max_size=snap.MAX_FRAME_BYTES,
        )
        self.on_text = on_text
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses).
        self.transport = cast(asyncio.Transport, transport)
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self._end(f"handshake: {self.ws.handshake_exc}")
                elif not self.opened.done():
                    self.opened.set_result(None)
            elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.CONT):
                self._parts.append(bytes(event.data))
                if event.fin:
                    text, self._parts = b"".join(self._parts).decode(), []
                    self.on_text(self, text)
        self._flush()

    def send_text(self, text: str) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_text(text.encode())
            self._flush()

    def close(self) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_close(1000)
            self._flush()
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        if self.transport is None:
            return
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()  # the protocol's end of its side
        if self.ws.close_expected():
            self.transport.close()

    def _end(self, why: str) -> None:
        if not self.closed.done():
            self.closed.set_result(why)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ws.receive_eof()
        if not self.opened.done():
            self.opened.set_exception(OSError(f"connection lost before the handshake: {exc}"))
        self._end(f"closed {self.ws.close_code}" if exc is None else f"lost: {exc}")


async def _session(fleet: Fleet, reader: LightReader, stop: asyncio.Event) -> None:
    from passgate.proto import link as wire

    url = "ws" + reader.base.removeprefix("http") + "/reader/v1/ws"
    nonce = secrets.token_urlsafe(24)
    state = LightCache(reader.reader_id, reader.server_key, reader.server_pem, fleet.shared, nonce)
    # Like the agent, a reader that holds a cache says its version and digest.
    held: tuple[int, dict[str, Any], dict[str, int]] | None = None
    if reader.preset is not None:
        held, reader.preset = reader.preset, None
    elif reader.state is not None and reader.state.content is not None:
        held = reader.state.held()
    if held is not None:
        state.adopt(*held)
    reader.state = state
    if held is not None:
        fleet.judge(reader)
    reader.connected_at = time.monotonic()
    loop = asyncio.get_running_loop()
    # As the agent's reader.sync.Acks: the latest applied version, at most once per
    # ACK_DELAY_S (a timer, not a task: ten thousand of them per change).
    acking: list[Any] = [None, None]  # version to report, its timer

    def report(link: _LightLink) -> None:
        version, acking[0], acking[1] = acking[0], None, None
        if version is not None:
            link.send_text(applied_text(version))

    def on_text(link: _LightLink, text: str) -> None:
        msg = wire.decode(text)
        if isinstance(msg, wire.Challenge):
            proof = snap.auth_message(msg.nonce, reader.reader_id)
            auth = wire.Auth(
                reader_id=reader.reader_id,
                reader_nonce=nonce,
                signature=snap.sign(reader.link_key, proof),
                version=state.version,
                digest=state.digest,
                # As the agent does: deltas signed once for every reader in one state.
                shared_deltas=True,
            )
            link.send_text(wire.encode(auth))
            return
        if not isinstance(msg, wire.Signed):
            return
        if msg.type in ("snapshot", "delta", "snapshot_part", "shared_delta"):
            verdict = state.receive(msg.frame)
            reader.frames += 1
            if isinstance(verdict, snap.Accepted):
                if verdict.changes is None:
                    reader.snapshots += 1
                if reader.synced_at is None:
                    reader.synced_at = time.monotonic()
                fleet.judge(reader)
                # As the agent does once the frame is in its store.
                acking[0] = verdict.version
                if acking[1] is None:
                    acking[1] = loop.call_later(ACK_DELAY_S, report, link)
            elif isinstance(verdict, snap.Rejected):
                reader.rejected.append(verdict.reason)
                link.send_text(wire.encode(wire.Resync(reason=verdict.reason)))
        elif msg.type == "heartbeat" and state.confirms(msg.frame):
            if reader.synced_at is None:
                reader.synced_at = time.monotonic()  # a resumed cache, confirmed current
            link.send_text(wire.encode(wire.Ping()))

    host, _, port = reader.base.removeprefix("http://").partition(":")
    _, link = await asyncio.wait_for(
        loop.create_connection(lambda: _LightLink(url, on_text), host, int(port)), 120
    )
    try:
        await asyncio.wait_for(link.opened, 120)
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        ended: asyncio.Future[Any] = link.closed
        await asyncio.wait({stopping, ended}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if link.closed.done() and not stop.is_set():
            raise OSError(link.closed.result())  # counted as a link failure; it reconnects
    finally:
        if acking[1] is not None:
            acking[1].cancel()
        link.close()


def applied_text(version: int) -> str:
    """``wire.encode(wire.Applied(version=version))``, without building the model (ten
    thousand of them per change; tests/bench holds the two equal)."""
    return f'{{"type":"applied","version":{int(version)}}}'


async def _keep_connected(fleet: Fleet, reader: LightReader, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await _session(fleet, reader, stop)
        except (OSError, TimeoutError, snap.SnapshotError) as exc:
            reader.lost.append(type(exc).__name__ + (f": {exc}" if str(exc) else ""))
        if not stop.is_set():
            await asyncio.sleep(0.2)


async def _fleet_main(
    shares: list[tuple[int, str, str]],
    watched_key: str,
    conn: Connection,
    connect_gap_s: float,
    presync: bool,
) -> None:
    readers = [LightReader(i, base, code, watched_key) for i, base, code in shares]
    fleet = Fleet(readers, conn)
    # Pairing is a write (the server serializes it): a few pairings at a time, each
    # waiting only for its own answer. A task per reader queued 5,000 requests on the
    # client's pool, and with four server processes sharing two cores the last ones
    # waited out the pool timeout (PoolTimeout) before being sent.
    limits = httpx.Limits(max_connections=PAIRING_AT_ONCE)
    todo = iter(readers)

    async def pairing(http: httpx.AsyncClient) -> None:
        for reader in todo:  # shared: each reader is taken by one of them
            await _pair(http, reader)

    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(*(pairing(http) for _ in range(PAIRING_AT_ONCE)))
    conn.send(("paired",))
    stop = asyncio.Event()
    tasks = []
    loop = asyncio.get_running_loop()
    rest = readers
    if presync and len(readers) > 1:
        template, rest = readers[0], readers[1:]
        tasks.append(asyncio.create_task(_keep_connected(fleet, template, stop)))
        while template.synced_at is None:
            await asyncio.sleep(0.1)  # its full snapshot (the parent's wait is bounded)
        conn.send(("presync", _presets(template, rest)))
        await loop.run_in_executor(None, conn.recv)  # ("presynced",): recorded as applied
    for r in rest:
        tasks.append(asyncio.create_task(_keep_connected(fleet, r, stop)))
        await asyncio.sleep(connect_gap_s)  # no thundering herd of snapshots
    frozen = False
    try:
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "stop":
                break
            if command[0] == "expect":
                # Every reader of this worker is connected and synced: its heap (ten
                # thousand readers' state in one process, which no real reader has)
                # leaves the collector's generations, so full collections of it do not
                # land in the middle of a measured round (see reader_hub's _freeze_heap;
                # bench only, what dies later is reclaimed at exit). Again before each
                # change: what the last one left (each reader's new small sections) would
                # otherwise build up to a full collection of 110 to 140 ms every 25 s or
                # so at 5,000 readers per worker (gc.callbacks).
                if not frozen:
                    gc.collect()
                    frozen = True
                gc.freeze()
                fleet.arm(command[1])
            elif command[0] == "stats":
                synced = [r.synced_at - r.connected_at for r in readers if r.synced_at]
                frames = sum(r.frames for r in readers)
                stats: dict[str, Any] = {
                    "synced": synced,
                    "frames": frames,
                    "rejected": sum(len(r.rejected) for r in readers),
                    "links_lost": sum(len(r.lost) for r in readers),
                    "reasons": Counter(why for r in readers for why in (*r.rejected, *r.lost)),
                    "snapshots": sum(r.snapshots for r in readers),
                    "cpu_s": time.process_time(),  # this worker's CPU so far
                }
                conn.send(("stats", stats))
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _presets(template: LightReader, others: list[LightReader]) -> list[tuple[str, int, str]]:
    """Give ``others`` the template's cache, each with its own reader section; returns
    (reader, version, digest) of each, for the database's record of applied versions."""
    assert template.state is not None
    version, content, sums = template.state.held()
    rows = []
    for r in others:
        own = {**content["reader"], "id": r.reader_id}
        mine = {**sums, "reader": snap.section_hash("reader", own)}
        r.preset = (version, {**content, "reader": own}, mine)
        rows.append((r.reader_id, version, snap.format_digest(sum(mine.values()))))
    return rows


def record_applied(database_url: str, org_id: str, rows: list[tuple[str, int, str]]) -> None:
    """Store what the readers hold as versions they reported applied (``reader_sync``),
    as the hub would after their acks: they connect with that version and digest and
    the server checks both (a mismatch gets a full snapshot)."""
    from passgate.adapters.db.engine import create_engine
    from passgate.adapters.db.repository import SqlUnitOfWork

    engine = create_engine(database_url)
    now = datetime.now(UTC)
    with SqlUnitOfWork(engine, None) as uow:
        uow.reader_changes.record_applied([(r, org_id, v, d, now) for r, v, d in rows])
    engine.dispose()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (uvicorn's, as the servers run on it):
    the workers' event loop handles a frame for every reader for every change, and
    asyncio's own selector loop and transports cost about a tenth of a worker's CPU
    (py-spy, 10,000 readers)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def fleet_worker(
    shares: list[tuple[int, str, str]],
    watched_key: str,
    conn: Connection,
    connect_gap_s: float,
    presync: bool = False,
) -> None:
    """One worker process of the fleet (spawned); a failure is reported to the parent."""
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_fleet_main(shares, watched_key, conn, connect_gap_s, presync))
    except (click.ClickException, httpx.HTTPError, OSError) as exc:
        # The type too: a timeout's message is empty.
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def receive(conn: Connection, kind: str, limit: float, what: str) -> Any:
    deadline = time.monotonic() + limit
    while True:
        # In slices of at most a second, so a SIGTERM whose exit was dropped is acted on.
        while not conn.poll(min(1.0, max(0.0, deadline - time.monotonic()))):
            stop.check()
            if time.monotonic() >= deadline:
                raise click.ClickException(f"gave up waiting: {what}")
        stop.check()
        message = conn.recv()
        if message[0] == "error":
            raise click.ClickException(f"a reader worker failed: {message[1]}")
        if message[0] == kind:
            return message


@contextlib.contextmanager
def fleet(
    bases: list[str],
    codes: list[str],
    watched_key: str,
    workers: int,
    connect_gap_s: float = 0.0,
    presync: Callable[[list[tuple[str, int, str]]], None] | None = None,
) -> Iterator[list[Connection]]:
    """Worker processes with the readers (reader i on server i mod P); yields their pipes.

    With ``presync``, one reader per worker syncs its full snapshot and the others
    start from a copy of its cache (shared sections, their own reader section), which
    ``presync`` records as applied, the way a fleet of readers that were synced before
    reconnects (after a server restart): the server resumes each of them from the log.
    """
    ctx = multiprocessing.get_context("spawn")
    everyone = [(i, bases[i % len(bases)], code) for i, code in enumerate(codes)]
    shares = [everyone[w::workers] for w in range(workers) if everyone[w::workers]]
    pipes = [ctx.Pipe() for _ in shares]
    procs = [
        ctx.Process(
            target=fleet_worker,
            args=(share, watched_key, child, connect_gap_s, presync is not None),
            daemon=True,
        )
        for share, (_, child) in zip(shares, pipes, strict=True)
    ]
    conns = [parent for parent, _ in pipes]
    for p in procs:
        p.start()
    try:
        for c in conns:
            receive(c, "paired", 1800, "readers paired")
        if presync is not None:
            for c in conns:
                presync(receive(c, "presync", 600, "a template reader synced")[1])
                c.send(("presynced",))
        yield conns
    finally:
        for c in conns:
            with contextlib.suppress(OSError):
                c.send(("stop",))
        for p in procs:
            p.join(15)
            if p.is_alive():
                p.terminate()


def expect(conns: list[Connection], reason: str, limit: float, what: str) -> list[float]:
    """Arm every worker for ``reason``; returns each reader's monotonic time of reaching it."""
    for c in conns:
        c.send(("expect", reason))
    for c in conns:
        receive(c, "armed", 60, "workers armed")
    return [t for c in conns for t in receive(c, "done", limit, what)[1]]


def stats(conns: list[Connection]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "synced": [],
        "frames": 0,
        "rejected": 0,
        "links_lost": 0,
        "reasons": Counter(),
        "snapshots": 0,
        "cpu_s": 0.0,
    }
    for c in conns:
        c.send(("stats",))
        got = receive(c, "stats", 60, "fleet stats")[1]
        for name in out:
            out[name] += got[name]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
