"""The reader hub: connected readers, and the loop that keeps their caches current.

Fan-out runs inside each API process. Each connected organization's content lives in
memory (``services.readers.reader_state.OrgState``) and follows the reader change log: a pass
(when the change feed says the organization's log moved, on a reader's connect or
resync, a tamper or status report, the scheduled start or end of a subscription)
reads the entries after the sequence number it built, reloads only the rows they name
and sends each reader whose sections changed a delta of those rows. A reader's version
is the organization's change sequence number (``reader_state.version_of``). Readers in
the same state share one signed statement per change (``shared_delta``); a reader that
reconnects with a version it reported applied gets the changes since from the log.
Remote unlock commands come through the log too (a ``command`` entry naming the
reader): only a pass that read one for a connected reader, or follows a reader's
connect, claims and sends that organization's pending commands.
The change feed (``Container.reader_feed``, a port: NOTIFY/LISTEN on PostgreSQL, this
process's commits plus a poll of the heads by the adapter on SQLite) is the one wake-up
after commit, for commits of any process; a pass refreshes only the organizations it
names. While nothing changes the hub does no database work and signs each
connection's heartbeat every ``reader_heartbeat_s``. A full snapshot goes out in signed parts
(``proto.snapshot.snapshot_frames``), so a cache of any size syncs.

The hub speaks to a reader through a :class:`Channel` (the web layer's WebSocket is
one); :func:`serve_reader` runs one reader's whole session over it, so the endpoint in
``web/`` only moves frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hmac
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.errors import PassgateError, Unauthenticated
from passgate.proto import link as wire
from passgate.proto import snapshot as snap

# The hub owns the link's transactions, so it sees the unit-of-work factory too.
from passgate.services.container import ServiceWiring as Container
from passgate.services.credentials import aliro_groups
from passgate.services.readers import door_commands, reader_events, reader_gateway, reader_state

AUTH_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 10.0
RETRY_S = 1.0  # a pass that failed (the database unreachable) is retried after this
# Readers' "last seen" goes to the database in one statement per organization per
# second, not one transaction per answered heartbeat.
SEEN_FLUSH_S = 1.0
# Heartbeats falling due within this window go out together (a little early), so a
# thousand readers cost the hub about two wake-ups a second, not a hundred.
BEAT_WINDOW_S = 0.5
log = logging.getLogger(__name__)


class ChannelClosed(Exception):
    """The reader's connection is gone (raised by a :class:`Channel`)."""


class Channel(Protocol):
    """One reader's connection: text frames in and out."""

    async def send_text(self, text: str) -> None:
        """Send one frame; raises :class:`ChannelClosed` when the connection is gone."""

    async def receive(self) -> str | bytes:
        """The next frame; raises :class:`ChannelClosed` when the peer went away."""

    async def close(self, code: int) -> None:
        """Close with ``code``; never raises (a closed channel stays closed)."""


class HubMetrics(Protocol):
    def observe_push(self, seconds: float) -> None:
        """Commit to changed content written to every affected reader (R16, server part)."""

    def count_taps(self, items: Iterable[tuple[bool, str]]) -> None:
        """Taps stored, as (granted, reason)."""


@dataclass(eq=False)
class Link:
    channel: Channel
    reader_id: str
    org_id: str
    version: int
    synced: bool = False
    digest: str = ""
    # What this reader holds (as the hub last sent it): small sections by value, the
    # shared sections by object (see services.readers.reader_state).
    small: dict[str, Any] = field(default_factory=dict)
    credentials: reader_state.Section | None = None
    members: reader_state.Section | None = None
    # A reconnecting reader's claim (version, digest): served from the log if it can be.
    resume: tuple[int, str] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent_at: float = 0.0
    # The link key this connection proved; another key (the reader paired again) or none
    # (deleted) ends the connection at the next pass.
    public_key: str = ""
    # The reader's nonce for this connection: every frame and heartbeat carries it, and
    # heartbeats count up, so a recorded one cannot be replayed (see snap.heartbeat_text).
    reader_nonce: str | None = None
    beats: int = 0
    seen_at: float = field(default_factory=time.monotonic)
    # Digests of the versions sent and not yet reported applied (the agent's acks). A
    # pass records them in a worker thread while the event loop takes the reports, so
    # both hold ``guard`` (took, vouch).
    sent: dict[int, str] = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    applied_version: int = 0
    # The agent takes deltas signed once for every reader in the same state.
    shared_ok: bool = False
    # This connection's routing text in a shared delta, with the nonce it was made for.
    _routing: tuple[str | None, str] | None = field(default=None, repr=False)

    async def send(self, *messages: wire.Message | dict[str, Any] | str) -> None:
        """Send messages in order, none interleaved (a snapshot's parts stay together).

        Signed frames are dicts (the signature covers that exact object) or, for
        heartbeats, their text already encoded; the rest are the link's typed messages."""
        async with self.lock:
            for message in messages:
                text = message if isinstance(message, str) else wire.encode(message)
                await self.channel.send_text(text)

    def routing(self) -> str:
        """Its id and nonce as a shared delta's frame carries them (snap.routing_text),
        encoded once per connection rather than once per frame."""
        held = self._routing
        if held is None or held[0] != self.reader_nonce:
            held = self._routing = (
                self.reader_nonce,
                snap.routing_text(self.reader_id, self.reader_nonce),
            )
        return held[1]

    def took(self, version: int, view: reader_state.ReaderView, digest: str, tick: float) -> None:
        self.version, self.digest, self.sent_at, self.synced = version, digest, tick, True
        self.small = dict(view.small)
        self.credentials, self.members = view.credentials, view.members
        with self.guard:
            self.sent[version] = digest
            while len(self.sent) > 16:
                del self.sent[min(self.sent)]

    def vouch(self, version: int) -> str | None:
        """The digest this connection sent with ``version``, forgetting it and every
        earlier one; None if it sent no such version (or it was reported already)."""
        with self.guard:
            digest = self.sent.get(version)
            if digest is not None:
                for old in [v for v in self.sent if v <= version]:
                    del self.sent[old]
            return digest


# The heap of a process holding many readers (Hub._tend_heap).
FREEZE_FROM_LINKS = 500
REFREEZE_S = 10.0
RECLAIM_S = 3600.0
MIN_PASS_GAP_S = 0.02  # a burst of commits costs one pass per 20 ms, not one per commit
# Readers' applied reports are written once a second, in one statement: the acks of a
# change pushed to thousands of readers arrive over the push, and writing them in
# batches every 100 ms put a tenth of a server's CPU beside the sends of that very push
# (py-spy, 4,000 readers). An ack lost with its process costs a reader a snapshot
# instead of a delta when it reconnects; it vouches for nothing else.
ACK_BATCH_S = 1.0


class Hub:
    """Connected readers of this process, and the loop that keeps their caches current.

    A pass runs when the change feed says an organization's log moved (a commit in any
    process, any service, so no coupling to the other areas), when a reader connects or
    asks for a snapshot, and at scheduled changes; between passes only heartbeats are
    signed.
    A pass applies the log entries since the last one to the organization's state (the
    rows they name), and only readers whose sections changed get a frame: section
    deltas are computed once per shared section, and readers at the same version
    holding the same changed rows share one signature.
    """

    def __init__(self, container: Container, metrics: HubMetrics | None = None) -> None:
        self._c = container
        self._metrics = metrics
        # When the first change not yet pushed was announced to this process.
        self._commit_at: float | None = None
        # Organizations to refresh in the next pass; ``_dirty_all``: every connected one.
        self._dirty: set[str] = set()
        self._dirty_all = False
        self._links: dict[str, Link] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._forced: set[Link] = set()
        # Each connected organization's content, kept current from the change log.
        self._states: dict[str, reader_state.OrgState] = {}
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        # Wall-clock times at which an organization's content changes by itself.
        self._scheduled: dict[str, float] = {}
        # Versions readers reported applied, written in batches: (reader, org, v, digest, at).
        self._acks: list[tuple[str, str, int, str, Any]] = []
        self._ack_task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._seen: dict[str, set[str]] = {}  # organization -> readers whose last seen is due
        self._seen_task: asyncio.Task[None] | None = None
        # Organizations whose pending door commands the next pass sends: the log named
        # a command for one of their connected readers, or one of their readers connected.
        self._commands_due: set[str] = set()
        # When this process's heap was last frozen, and last reclaimed whole (_tend_heap).
        self._frozen_at = self._reclaimed_at = time.monotonic()

    @property
    def container(self) -> Container:
        return self._c

    @property
    def metrics(self) -> HubMetrics | None:
        return self._metrics

    def add(self, link: Link) -> None:
        old = self._links.get(link.reader_id)
        if old is not None:
            # One live connection per reader: the newest wins, the old one is dropped.
            self._forced.discard(old)
            asyncio.get_running_loop().create_task(old.channel.close(4409))
        self._links[link.reader_id] = link
        # A command written for this reader before it connected here waits for it.
        self._commands_due.add(link.org_id)
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            if self._unsubscribe is None:
                self._unsubscribe = self._c.reader_feed.subscribe(self._changed)
            self._task = self._loop.create_task(self._run())

    def remove(self, link: Link) -> None:
        if self._links.get(link.reader_id) is link:
            del self._links[link.reader_id]
        self._forced.discard(link)
        if not any(x.org_id == link.org_id for x in self._links.values()):
            self._states.pop(link.org_id, None)  # reloaded whole when a reader returns
        if not self._links and self._task is not None:
            self._task.cancel()
            self._task = None
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    def wake(self, org_id: str | None = None) -> None:
        """Refresh ``org_id`` (every connected organization if None) in the next pass."""
        if org_id is None:
            self._dirty_all = True
        else:
            self._dirty.add(org_id)
        self._wake.set()

    def request_snapshot(self, link: Link) -> None:
        """Send ``link`` a full snapshot in the next pass (a reader's resync)."""
        link.resume = None
        self._forced.add(link)
        self.wake(link.org_id)

    def request_sync(self, link: Link, version: int, digest: str | None) -> None:
        """A connecting reader: the changes since ``version`` if the log still has them
        and its digest is the one it was sent, else a full snapshot."""
        if digest is None or reader_state.seq_of(version) is None:
            self.request_snapshot(link)
            return
        link.resume = (version, digest)
        self.wake(link.org_id)

    def applied(self, link: Link, version: int) -> None:
        """The agent committed ``version`` to its store: recorded at the next pass."""
        digest = link.vouch(version)
        if digest is None:
            return  # not a version this connection sent: nothing to vouch for
        link.applied_version = version
        self._acks.append((link.reader_id, link.org_id, version, digest, self._c.clock.now()))
        if self._ack_task is None or self._ack_task.done():
            # Acks of one change from many readers go in one transaction, with no pass.
            self._ack_task = asyncio.get_running_loop().create_task(self._flush_acks())

    def note_seen(self, link: Link) -> None:
        """The reader spoke: its last seen is written with the next batch."""
        self._seen.setdefault(link.org_id, set()).add(link.reader_id)
        if self._seen_task is None or self._seen_task.done():
            self._seen_task = asyncio.get_running_loop().create_task(self._flush_seen())

    async def _flush_seen(self) -> None:
        while self._seen:
            await asyncio.sleep(SEEN_FLUSH_S)
            batch, self._seen = self._seen, {}
            try:
                await asyncio.to_thread(self._write_seen, batch)
            except Exception:
                # The database is away: the readers' next answers note them again.
                log.exception("reader hub: could not store %d readers' last seen", len(batch))

    def _write_seen(self, batch: dict[str, set[str]]) -> None:
        now = self._c.clock.now()
        for org_id, reader_ids in sorted(batch.items()):
            with self._c.uow_factory(org_id) as uow:
                reader_events.touch_seen(uow, sorted(reader_ids), now)

    async def _flush_acks(self) -> None:
        await asyncio.sleep(ACK_BATCH_S)
        acks, self._acks = self._acks, []
        if acks:
            await asyncio.to_thread(self._record_acks, acks)

    def _changed(self, moved: Mapping[str, int] | None) -> None:
        # Runs in the thread that learnt of the change; only hands it to the hub's loop.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        at = time.monotonic()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._note_change, moved, at)

    def _note_change(self, moved: Mapping[str, int] | None, at: float) -> None:
        if moved is None:
            self._dirty_all = True  # any organization may have moved: compare the heads
        else:
            connected = {x.org_id for x in self._links.values()}
            fresh = [
                org_id
                for org_id, seq in moved.items()
                if org_id in connected
                and ((state := self._states.get(org_id)) is None or seq > state.seq)
            ]
            if not fresh:
                return  # no reader of it here, or this pass already built it
            self._dirty.update(fresh)
        if self._commit_at is None:
            self._commit_at = at
        self._wake.set()

    async def _run(self) -> None:
        while True:
            woken = await self._sleep()
            if woken:
                self._wake.clear()  # only a wake-up this pass answers is cleared
            started = time.monotonic()
            if not woken:
                await self._beat()  # nothing changed: signed heartbeats, no database work
                continue
            commit_at, self._commit_at = self._commit_at, None
            forced, self._forced = self._forced, set()
            dirty, every = self._dirty, self._dirty_all
            self._dirty, self._dirty_all = set(), False
            connected = {link.org_id for link in self._links.values()}
            due = [o for o, at in self._scheduled.items() if at <= time.time()]
            orgs = connected if every else (dirty | set(due)) & connected
            pushed: list[asyncio.Task[None] | None] = []
            try:
                if due:
                    await asyncio.to_thread(self._clock_changes, due)
                with _collector_paused():
                    for org_id in sorted(orgs):
                        forced_here = {x for x in forced if x.org_id == org_id}
                        pushed += await self.refresh(org_id, forced_here)
            except Exception:
                # The database went away mid-pass: what failed was not sent; the pass is
                # tried again (for every organization; forced readers stay forced).
                log.exception("reader hub: a pass failed; retrying in %.1f s", RETRY_S)
                self._forced |= {x for x in forced if self._links.get(x.reader_id) is x}
                self._dirty_all = True
                self._commit_at = self._commit_at or commit_at
                await asyncio.sleep(RETRY_S)
                self._wake.set()
                continue
            if commit_at is not None and pushed:
                self._time_push(commit_at, pushed)
            self._tend_heap()
            due_commands, self._commands_due = self._commands_due, set()
            if due_commands:  # remote unlock (services/readers/door_commands)
                await self._send_door_commands(due_commands)
            await asyncio.sleep(max(0.0, MIN_PASS_GAP_S - (time.monotonic() - started)))

    async def _sleep(self) -> bool:
        """Wait for a wake-up (True) or the next heartbeat or scheduled change (False).

        A scheduled change is a time at which content changes without a commit (a
        subscription starting or ending): it counts as a wake-up.
        """
        now = time.monotonic()
        heartbeat_s = self._c.settings.reader_heartbeat_s
        due = min((x.sent_at + heartbeat_s for x in self._links.values()), default=now + 60)
        timeout = max(0.0, due - now)
        scheduled = min(self._scheduled.values(), default=None)
        if scheduled is not None:
            timeout = min(timeout, max(0.0, scheduled - time.time()))
        if self._wake.is_set():
            return True  # wait_for with no time left would not even look
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
            return True
        if self._wake.is_set():
            return True  # set while the timed-out wait was being cancelled
        return scheduled is not None and time.time() >= scheduled

    def _tend_heap(self) -> None:
        """With many readers connected, keep full garbage collections short: after a pass,
        at most every ``REFREEZE_S``, what is alive moves to the permanent generation.

        Full collections walk every object the collector tracks; with thousands of
        connections (uvicorn's, Starlette's and the hub's objects for each, some
        470,000 objects at 2,000 readers per process besides the frozen state) one took
        200 to 500 ms, landing before or in a push. Frozen, those objects are skipped,
        and a full collection walks only what was made since. Young garbage is collected
        first (cheap); objects frozen that later die in a reference cycle (a closed
        connection's, say) are not reclaimed until ``RECLAIM_S`` has passed, when the
        heap is unfrozen and collected whole once, between passes. Every ten seconds
        rather than every minute: what passes leave alive between two freezes (at
        10,000 readers on two processes, changes pushed back to back) still made full
        collections of 110 to 220 ms about every 25 s (gc.callbacks, bench revocation).
        """
        if len(self._links) < FREEZE_FROM_LINKS:
            return
        now = time.monotonic()
        if now - self._reclaimed_at >= RECLAIM_S:
            gc.unfreeze()
            _freeze_heap()
            self._frozen_at = self._reclaimed_at = now
        elif now - self._frozen_at >= REFREEZE_S:
            gc.collect(1)
            gc.freeze()
            self._frozen_at = now

    def _record_acks(self, acks: list[tuple[str, str, int, str, Any]]) -> None:
        with self._c.uow_factory(None) as uow:
            uow.reader_changes.record_applied(acks)

    def _clock_changes(self, org_ids: list[str]) -> None:
        """Eligibility moved with the clock: an entry in the log, like any other change."""
        for org_id in org_ids:
            self._scheduled.pop(org_id, None)
            with self._c.uow_factory(org_id) as uow:
                uow.reader_changes.touch(org_id, "org", org_id)

    async def _beat(self) -> None:
        tick = time.monotonic()
        heartbeat_s = self._c.settings.reader_heartbeat_s
        soon = heartbeat_s - min(BEAT_WINDOW_S, heartbeat_s / 4)
        due = [x for x in self._links.values() if tick - x.sent_at >= soon]
        if not due:
            return
        beats = await asyncio.to_thread(self._heartbeats, due, tick)
        for link, beat in beats:
            self._keep(send_soon(link, [beat]))

    def _heartbeats(self, links: list[Link], tick: float) -> list[tuple[Link, str]]:
        at_ms = int(self._c.clock.now().timestamp() * 1000)
        out = []
        for link in links:
            link.sent_at = tick
            if link.reader_nonce is None or not link.synced:
                continue  # an agent too old to check one gets none; unsynced: nothing to confirm
            link.beats += 1
            beat = snap.heartbeat_text(
                self._signing_key(link.org_id),
                reader_id=link.reader_id,
                version=link.version,
                link_nonce=link.reader_nonce,
                seq=link.beats,
                at_ms=at_ms,
            )
            out.append((link, beat))
        return out

    async def _send_door_commands(self, org_ids: set[str]) -> None:
        """Remote unlock: the signed frames of these organizations' connected readers'
        pending commands (only organizations the log or a connect named)."""
        for org_id in sorted(org_ids & {x.org_id for x in self._links.values()}):
            nonces = {
                x.reader_id: x.reader_nonce for x in self._links.values() if x.org_id == org_id
            }
            frames = await asyncio.to_thread(
                door_commands.claim_frames,
                self._c.uow_factory,
                org_id,
                nonces,
                self._signing_key,
                self._c.clock.now(),
            )
            for reader_id, frame in frames:
                if (link := self._links.get(reader_id)) is not None:
                    self._keep(send_soon(link, [frame]))

    def _keep(self, task: asyncio.Task[None] | None) -> None:
        """Hold a send still going on (asyncio keeps only weak references to tasks)."""
        if task is not None:
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def _time_push(self, commit_at: float, sends: list[asyncio.Task[None] | None]) -> None:
        """Observe commit -> changed content written to every affected reader's socket
        (``sends``: one per reader, None for a send that went out at once)."""
        metrics = self._metrics
        if metrics is None:
            return
        # A countdown on the sends still going, O(1) per send: asyncio.wait over
        # 5,000 sends registered and removed a callback on each (py-spy: 15% of a
        # server's CPU during a 10,000-reader revocation).
        going = [task for task in sends if task is not None]
        left = len(going)
        if left == 0:
            metrics.observe_push(time.monotonic() - commit_at)
            return

        def sent(_: asyncio.Task[None]) -> None:
            nonlocal left
            left -= 1
            if left == 0:
                metrics.observe_push(time.monotonic() - commit_at)

        for task in going:
            task.add_done_callback(sent)

    async def refresh(self, org_id: str, forced: set[Link]) -> list[asyncio.Task[None] | None]:
        """One pass for ``org_id``; returns the sends of changed content (not heartbeats),
        one per reader: None where the frames went out at once, else the send going on."""
        links = [link for link in self._links.values() if link.org_id == org_id]
        if not links:
            return []
        frames, commands = await asyncio.to_thread(self._frames, org_id, links, forced)
        if commands:
            self._commands_due.add(org_id)
        loop = asyncio.get_running_loop()
        changed: list[asyncio.Task[None] | None] = []
        for link, frame in frames:
            if frame is None:
                self._keep(loop.create_task(link.channel.close(4403)))
                continue
            # A reader that stops reading must not hold up the others (send_soon); each
            # link's lock is FIFO, so a link still gets its frames in pass order.
            task = send_soon(link, frame)
            self._keep(task)
            changed.append(task)
        return changed

    def _signing_key(self, org_id: str) -> ec.EllipticCurvePrivateKey:
        key = self._keys.get(org_id)
        if key is None:
            c = self._c
            with c.uow_factory(org_id) as uow:
                stored = reader_gateway.org_key(uow, org_id, c.secret_box, c.clock.now())
            key = self._keys[org_id] = reader_gateway.signing_key(stored, c.secret_box)
        return key

    def _frames(
        self, org_id: str, links: list[Link], forced: set[Link]
    ) -> tuple[list[tuple[Link, list[dict[str, Any]] | list[str] | None]], bool]:
        """The frames of this pass for ``links``, and whether the log named a new door
        command for one of them (its entries change no content)."""
        c = self._c
        now = c.clock.now()
        private = self._signing_key(org_id)
        state = self._states.get(org_id)
        reload = loaded = False
        # A reconnecting reader's claim, read once (the event loop may drop it meanwhile:
        # a resync request) with the entries it missed, None when it needs a snapshot.
        resumes: dict[Link, tuple[tuple[int, str], list[tuple[str, str]] | None]] = {}
        with c.uow_factory(org_id, write=False) as uow:
            log = uow.reader_changes
            head, horizon = log.heads([org_id]).get(org_id, (0, 0))
            entries: list[tuple[int, str, str]] = []
            if state is not None and head > state.seq:
                entries = log.after(org_id, state.seq, head)
                # Re-read after the entries: a prune committed in between shows here.
                horizon = log.heads([org_id]).get(org_id, (0, 0))[1]
            here = {x.reader_id for x in links}
            commands = any(k == door_commands.NOTE and o in here for _, k, o in entries)
            if state is None or state.seq < horizon:
                reload = state is not None  # fell behind the log: everyone resyncs
                commands = commands or reload  # entries were skipped: look for commands
                state = self._states[org_id] = reader_state.OrgState(org_id)
                state.load(uow, head, now)
                loaded = True
            else:
                state.begin_pass()
                if entries:
                    state.apply(uow, head, [(k, o) for _, k, o in entries], now)
            claims = {x: held for x in links if x not in forced and (held := x.resume) is not None}
            if claims:
                stored = log.applied(org_id)
                for link, claim in claims.items():
                    found = self._resume_entries(log, link, claim, stored, state.seq)
                    resumes[link] = (claim, found)
        if loaded:
            _freeze_heap()  # after the read transaction: the collection takes a moment
        upcoming = state.next_change
        if upcoming is None:
            self._scheduled.pop(org_id, None)
        else:
            self._scheduled[org_id] = time.time() + (upcoming - now).total_seconds()
        state.drop_doors_except(
            {r.door_id for x in links if (r := state.readers.get(x.reader_id)) is not None}
        )
        tick = time.monotonic()
        memo: dict[int, tuple[dict[str, Any], list[str]]] = {}
        statements: dict[tuple[Any, ...], snap.SharedDeltaText] = {}
        out: list[tuple[Link, list[dict[str, Any]] | list[str] | None]] = []
        for link in links:
            view = state.view(link.reader_id)
            if view is None or state.public_key(link.reader_id) != link.public_key:
                out.append((link, None))  # deleted, or paired again with a new key
                continue
            if link in resumes:
                claim, found = resumes[link]
                link.digest, link.resume = claim[1], None  # what the reader holds
                if found is None:
                    forced.add(link)  # outside the log's horizon, or not what we sent
                else:
                    frames = self._resumed(private, link, state, view, found, tick)
                    if frames:
                        out.append((link, frames))
                    continue
            if link in forced or (reload and link.synced):
                out.append((link, self._snapshot(private, link, state, view, tick)))
                continue
            if not link.synced:
                continue  # its own snapshot request (connect, resync) is already queued
            if view.credentials is not link.credentials or view.members is not link.members:
                # What the reader may hold changed (tamper, readiness, its door): whole.
                out.append((link, self._snapshot(private, link, state, view, tick)))
                continue
            body = _body(link.small, view, memo)
            if body is None:
                continue  # unchanged: the heartbeat timer confirms it
            if link.shared_ok and "reader" not in body["replace"]:
                out.append(
                    (link, [self._shared(private, link, state, view, body, statements, tick)])
                )
            else:
                out.append((link, [self._delta(private, link, state, view, body, tick)]))
        return out, commands

    def _shared(
        self,
        private: ec.EllipticCurvePrivateKey,
        link: Link,
        state: reader_state.OrgState,
        view: reader_state.ReaderView,
        body: dict[str, Any],
        statements: dict[tuple[Any, ...], snap.SharedDeltaText],
        tick: float,
    ) -> str:
        """One signature for every reader at the same base holding the same changed rows,
        and one encoding of its frame (each reader's text differs only in routing)."""
        touched = {
            name: section
            for name, section in (("credentials", view.credentials), ("members", view.members))
            if name in body["set"] or name in body["unset"]
        }
        key = (
            link.version,
            tuple([(name, id(section)) for name, section in touched.items()]),
            snap.canonical(body["replace"]) if body["replace"] else b"",
        )
        found = statements.get(key)
        version = max(reader_state.version_of(state.seq), link.version + 1)
        if found is None:
            statement = snap.shared_statement(
                org_id=state.org_id,
                base_version=link.version,
                version=version,
                base={name: section.before for name, section in touched.items()},
                body=body,
            )
            signature = snap.sign_statement(private, statement)
            found = statements[key] = snap.SharedDeltaText(statement, signature, body)
        link.took(version, view, view.digest(), tick)
        return found.routed(link.routing())

    def _resume_entries(
        self,
        log: Any,
        link: Link,
        claim: tuple[int, str],
        stored: dict[str, tuple[int, str, Any]],
        head: int,
    ) -> list[tuple[str, str]] | None:
        """The log entries a reconnecting reader may have missed; None when it needs a
        snapshot.

        The entries count from the last version the reader reported applied and the
        hub recorded. A reader may hold a later version than that (agents report their
        version at most every ``reader.sync.ACK_DELAY_S``, and acks are written once a second, so
        a process that dies loses the last ones): then the entries since the recorded
        version are a superset of what it missed, and the delta made from them sets
        each of those rows to its current value, which is right from either version. The
        reader checks the digest the delta leads to, so a cache that is not what it was
        sent is refused there and resyncs whole; a claim that equals the recorded version
        must carry the recorded digest too.
        """
        version, digest = claim
        seq = reader_state.seq_of(version)
        known = stored.get(link.reader_id)
        if seq is None or seq > head or known is None or known[0] > version:
            return None  # nothing recorded for it, or ahead of what the log has
        since = reader_state.seq_of(known[0])
        if since is None:
            return None
        if known[0] == version and not hmac.compare_digest(known[1], digest):
            return None  # its cache is not what it was sent
        entries = log.after(link.org_id, since, head)
        if log.heads([link.org_id]).get(link.org_id, (0, 0))[1] > since:
            return None  # past the horizon: the log no longer has them all
        return [(k, o) for _, k, o in entries]

    def _resumed(
        self,
        private: ec.EllipticCurvePrivateKey,
        link: Link,
        state: reader_state.OrgState,
        view: reader_state.ReaderView,
        entries: list[tuple[str, str]],
        tick: float,
    ) -> list[dict[str, Any]]:
        """The reader at ``link.version`` (checked) gets one delta of what it missed."""
        digest = view.digest()
        if digest == link.digest:
            link.took(link.version, view, digest, tick)  # nothing missed: heartbeats confirm
            return []
        affected = state.expand(entries)
        sets: dict[str, Any] = {}
        unsets: dict[str, list[str]] = {}
        for name, section, keys in (
            ("credentials", view.credentials, affected.credentials),
            ("members", view.members, affected.members),
        ):
            changed, removed = section.delta(keys)
            if changed:
                sets[name] = changed
            if removed:
                unsets[name] = removed
        body = {"set": sets, "unset": unsets, "replace": dict(view.small), "drop": []}
        return [self._delta(private, link, state, view, body, tick)]

    def _snapshot(
        self,
        private: ec.EllipticCurvePrivateKey,
        link: Link,
        state: reader_state.OrgState,
        view: reader_state.ReaderView,
        tick: float,
    ) -> list[dict[str, Any]]:
        version = max(reader_state.version_of(state.seq), link.version + 1)
        digest = view.digest()
        frames = snap.snapshot_frames(
            private,
            reader_id=link.reader_id,
            version=version,
            content=view.content(),
            result_digest=digest,
            link_nonce=link.reader_nonce,
        )
        link.took(version, view, digest, tick)
        return frames

    def _delta(
        self,
        private: ec.EllipticCurvePrivateKey,
        link: Link,
        state: reader_state.OrgState,
        view: reader_state.ReaderView,
        body: dict[str, Any],
        tick: float,
    ) -> dict[str, Any]:
        version = max(reader_state.version_of(state.seq), link.version + 1)
        digest = view.digest()
        frame = snap.make_frame(
            private,
            kind="delta",
            reader_id=link.reader_id,
            version=version,
            base_version=link.version,
            body=body,
            result_digest=digest,
            link_nonce=link.reader_nonce,
        )
        link.took(version, view, digest, tick)
        return frame


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a pass builds and sends its frames.

    A pass makes a few objects per reader (its view, the frame lists) that live until
    the frames are written, a fraction of a second. Collections of the young
    generations during that time promote them to the oldest one, and once enough have
    been promoted Python runs a full collection, which walks every object of every
    connection (uvicorn's and Starlette's per connection, the links): 200 to 770 ms
    with 2,000 to 5,000 readers per process, in the middle of a push (gc.callbacks: the
    slow pushes traced at 4,000 readers each had one; at 10,000 the slow pushes were
    passes whose frames took 700 to 900 ms to build instead of about 75).
    Paused, the pass's objects die by reference counting before the collector looks at
    them; it resumes when the pass ends, with whatever cyclic garbage there is.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _freeze_heap() -> None:
    """Take what is alive now (a loaded organization: several objects per credential)
    out of the cyclic garbage collector's generations.

    Python's collector walks every tracked object of the oldest generation in a full
    collection, and the heartbeats' small allocations trigger those now and then: with
    100,000 credentials loaded that walk was more than half of an idle server's CPU.
    ``gc.freeze`` moves every object alive now into the permanent generation (O(1));
    reference counting still frees them when they are dropped (a state reloaded or
    unloaded: it holds no reference cycles), only cyclic garbage among them would stay.
    A collection first, so that garbage already waiting is freed rather than frozen (it
    runs once per load of an organization, not per change); what stays is bounded by
    the cycles alive at a load that die later (a request in flight, say).
    """
    gc.collect()
    gc.freeze()


def _body(
    small: dict[str, Any],
    view: reader_state.ReaderView,
    memo: dict[int, tuple[dict[str, Any], list[str]]],
) -> dict[str, Any] | None:
    """This pass's delta for a synced reader (None: nothing changed for it).

    The shared sections' changes are computed once per section object and shared by
    every reader holding it (treat the body as read-only).
    """
    sets: dict[str, Any] = {}
    unsets: dict[str, list[str]] = {}
    for name, section in (("credentials", view.credentials), ("members", view.members)):
        if not section.changed:
            continue
        found = memo.get(id(section))
        if found is None:
            found = memo[id(section)] = section.delta(section.changed)
        if found[0]:
            sets[name] = found[0]
        if found[1]:
            unsets[name] = found[1]
    replace = {n: v for n, v in view.small.items() if small.get(n) != v}
    if not (sets or unsets or replace):
        return None
    return {"set": sets, "unset": unsets, "replace": replace, "drop": []}


async def _send_or_drop(
    link: Link, messages: Sequence[wire.Message | dict[str, Any] | str]
) -> None:
    try:
        await link.send(*messages)
    except ChannelClosed:
        return


def send_soon(
    link: Link, messages: Sequence[wire.Message | dict[str, Any] | str]
) -> asyncio.Task[None] | None:
    """Send ``messages`` to ``link`` now, in the caller's turn of the event loop, if the
    connection takes them at once (None); else return the task that finishes the send.

    A send waits only when the reader's connection is busy (another frame of it still
    going out) or its socket buffer is full (a reader that stopped reading). Usually it
    does not, so a change pushed to thousands of readers runs no task per reader: a task
    per send cost 14 to 29 µs of a server's CPU against about 1.3 µs for the send run in
    place (asyncio in Python 3.11, 5,000 sends). A send that does wait goes on in its own
    task (:func:`_finish_send`, closed after ``SEND_TIMEOUT_S`` without progress), so a
    slow reader holds up no other; the link's lock keeps its frames in order. This is
    what Python 3.12's eager tasks do.
    """
    sending = _send_or_drop(link, messages)
    loop = asyncio.get_running_loop()
    try:
        waiting_on = sending.send(None)
    except StopIteration:
        return None  # every frame went out (or the connection was gone)
    except Exception:
        # A bug, not the reader: it must not stop the frames of the readers after it.
        log.exception("reader hub: sending to reader %s failed", link.reader_id)
        return loop.create_task(link.channel.close(1011))
    return loop.create_task(_finish_send(link, sending, waiting_on))


async def _finish_send(link: Link, sending: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drive a send that :func:`send_soon` started to its end; it is given up when it
    makes no progress for ``SEND_TIMEOUT_S``."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(SEND_TIMEOUT_S) as deadline:
            while True:
                if waiting_on is None:
                    await asyncio.sleep(0)  # a bare yield: give the loop one turn
                else:
                    # Wait until the future the send waits on is done; the send reads
                    # its outcome itself when resumed. (Not ``await waiting_on``: the
                    # send already awaited it, and a future is awaited once at a time.)
                    ready: asyncio.Future[None] = loop.create_future()
                    waiting_on.add_done_callback(functools.partial(_set_ready, ready))
                    await ready
                try:
                    waiting_on = sending.send(None)
                except StopIteration:
                    return
                # It moved on (the socket took data): the timeout counts from here, so a
                # reader taking a large snapshot slowly but steadily keeps its connection.
                deadline.reschedule(loop.time() + SEND_TIMEOUT_S)
    except TimeoutError:
        sending.close()  # runs its cleanup: the link's lock is released
        await link.channel.close(4408)  # it stopped reading: it re-syncs when it reconnects
    except Exception:
        sending.close()
        log.exception("reader hub: sending to reader %s failed", link.reader_id)
        await link.channel.close(1011)
    except BaseException:
        sending.close()  # cancelled (the server stops)
        raise


def _set_ready(ready: asyncio.Future[None], _: object) -> None:
    if not ready.done():  # done: cancelled with the send (the timeout)
        ready.set_result(None)


async def _authenticate(ch: Channel, c: Container) -> tuple[str, str, wire.Auth] | None:
    nonce = reader_gateway.new_nonce()
    await ch.send_text(wire.encode(wire.Challenge(nonce=nonce)))
    try:
        text = await asyncio.wait_for(ch.receive(), AUTH_TIMEOUT_S)
        msg = wire.decode(text)
        if not isinstance(msg, wire.Auth):
            raise Unauthenticated("expected auth")
        org_id, key = await asyncio.to_thread(
            reader_gateway.authenticate,
            c.uow_factory,
            c.reader_directory,
            reader_id=msg.reader_id,
            nonce=nonce,
            signature=msg.signature,
        )
    except (TimeoutError, PassgateError):
        await ch.send_text(wire.encode(wire.Error(code="unauthenticated")))
        await ch.close(4401)
        return None
    return org_id, key, msg


async def _serve(c: Container, hub: Hub, link: Link) -> None:
    while True:
        text = await link.channel.receive()
        try:
            msg = wire.decode(text)
            tick = time.monotonic()
            if tick - link.seen_at >= c.settings.reader_heartbeat_s / 2:
                # Last seen stays live (at most one write per half heartbeat per reader).
                link.seen_at = tick
                hub.note_seen(link)
            if isinstance(msg, wire.Events):
                reader_events.check_reasons(msg.items)
                acked = await asyncio.to_thread(_ingest, c, link, msg.items, hub.metrics)
                await link.send(wire.Ack(sequences=acked))
                if any(item.kind == "tamper" for item in msg.items):
                    hub.wake(link.org_id)
            elif isinstance(msg, wire.AliroKey):
                made = await asyncio.to_thread(_aliro_key, c, link, msg.public_key)
                if made is not None:
                    await link.send(_certificate_message(made))
            elif isinstance(msg, wire.Resync):
                hub.request_snapshot(link)
            elif isinstance(msg, wire.Applied):
                hub.applied(link, msg.version)
            elif isinstance(msg, wire.Status):
                await asyncio.to_thread(_status, c, link, msg.status, True)
                hub.wake(link.org_id)  # a reported model can change the reader's readiness (R13)
            elif isinstance(msg, wire.UnlockResult):  # remote unlock (readers/door_commands)
                await asyncio.to_thread(
                    door_commands.record_result,
                    c.uow_factory,
                    link.org_id,
                    link.reader_id,
                    msg,
                    c.clock.now(),
                )
            elif not isinstance(msg, wire.Ping):
                raise snap.SnapshotError("unexpected message type", field="type")
        except PassgateError as exc:
            # A peer's garbage gets an error message, never a dropped process or a 500.
            await link.send(wire.Error(code="bad_message", field=exc.field or ""))


def _ingest(
    c: Container, link: Link, items: list[wire.EventItem], metrics: HubMetrics | None
) -> list[int]:
    stored: list[wire.EventItem] = []
    with c.uow_factory(link.org_id) as uow:
        acked = reader_events.ingest(uow, link.reader_id, items, c.clock.now(), stored)
    # Counted after the commit, and only once per tap even when a reader resends.
    if metrics is not None:
        metrics.count_taps((e.granted, e.reason) for e in stored if e.kind == "access")
    return acked


def _certificate_message(made: aliro_groups.ReaderCredentials) -> wire.AliroCertificate:
    return wire.AliroCertificate(
        group_identifier=made.group_identifier,
        group_public_key=made.group_public_key,
        certificate=made.certificate,
    )


def _aliro_key(c: Container, link: Link, public_key: str) -> aliro_groups.ReaderCredentials | None:
    """The reader made a new Aliro key (after a tamper): certify it under the current group."""
    with c.uow_factory(link.org_id) as uow:
        return aliro_groups.set_reader_key(
            uow,
            link.reader_id,
            aliro_groups.parse_aliro_key(public_key),
            c.secret_box,
            c.clock.now(),
        )


def _recertify(c: Container, link: Link) -> aliro_groups.ReaderCredentials | None:
    """A certificate from a group that is no longer current is replaced on connect."""
    with c.uow_factory(link.org_id) as uow:
        return aliro_groups.recertify(uow, link.reader_id, c.secret_box, c.clock.now())


def _status(c: Container, link: Link, status: wire.ReaderStatus | None, online: bool) -> None:
    with c.uow_factory(link.org_id) as uow:
        reader_events.set_status(uow, link.reader_id, status, online=online, now=c.clock.now())


async def serve_reader(hub: Hub, channel: Channel) -> None:
    """One reader's session: challenge, authentication, sync and its messages until it leaves."""
    c = hub.container
    try:
        authed = await _authenticate(channel, c)
    except ChannelClosed:
        return
    if authed is None:
        return
    org_id, key, hello = authed
    link = Link(channel, hello.reader_id, org_id, version=hello.version)
    link.public_key, link.reader_nonce = key, hello.reader_nonce
    link.shared_ok = hello.shared_deltas
    hub.add(link)
    try:
        try:
            await asyncio.to_thread(_status, c, link, hello.status, True)
        except PassgateError as exc:
            # A bad status report (unknown model...) is refused; the link stays up.
            await link.send(wire.Error(code="bad_status", field=exc.field or ""))
            await asyncio.to_thread(_status, c, link, None, True)
        renewed = await asyncio.to_thread(_recertify, c, link)
        if renewed is not None:
            await link.send(_certificate_message(renewed))
        hub.request_sync(link, link.version, hello.digest)
        with contextlib.suppress(ChannelClosed):
            # A disconnect ends the session normally; cleanup follows either way.
            await _serve(c, hub, link)
    finally:
        hub.remove(link)
        with contextlib.suppress(PassgateError):
            await asyncio.to_thread(_status, c, link, None, False)
