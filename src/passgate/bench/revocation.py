"""`passgate bench revocation --readers N`: suspend a pass, time until every reader denies.

A server runs in its own process on a loopback port (SQLite in a temporary directory);
N reader agents run as asyncio tasks spread over ``--agent-processes`` worker processes
(two by default: on two cores one Python process cannot verify and apply a thousand
frames as fast as the server sends them), each agent with its own in-memory cache and
its own WebSocket. Each round suspends the pass through the REST API and measures, per
agent, the time from the API call to the moment that agent's cache denies the pass
(``pass_suspended``); the pass is then resumed for the next round. Bounded and
self-stopping: every wait has a limit and the server process is always terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import secrets
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import click
import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.access import Reason, UnlockMethod
from passgate.domain.reader_cache import decide_tap
from passgate.proto.aliro import crypto

# Fresh per run; handed to the server process explicitly (a spawned child re-imports us).
OPERATOR = "op-" + secrets.token_hex(20)
SECRET = "sk-" + secrets.token_hex(20)


def _serve(
    database_url: str, port: int, operator: str, secret: str
) -> None:  # runs in the server process
    import uvicorn

    from passgate.adapters.db import migrate
    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.web.app import create_app

    settings = Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=operator,
        secret_key=secret,
        metrics_enabled=False,
        in_process_worker=False,
    )
    container = build_container(settings)
    migrate.upgrade(container.engine)
    uvicorn.run(
        create_app(container),
        host="127.0.0.1",
        port=port,
        log_level="error",
        ws="websockets-sansio",
        ws_max_queue=64,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(base: str, database_url: str, readers: int) -> tuple[dict[str, str], str, list[str]]:
    """An eligible organization, N Pro 2.1 readers, a member with access and a pass."""
    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.domain import model as m

    op = {"Authorization": f"Bearer {OPERATOR}"}
    with httpx.Client(base_url=base + "/api/v1", timeout=30) as http:
        org = http.post(
            "/organizations", json={"name": "Bench", "slug": "bench"}, headers=op
        ).json()["id"]
        token = http.post(f"/organizations/{org}/api_keys", json={"name": "b"}, headers=op).json()[
            "token"
        ]
        h = {"Authorization": f"Bearer {token}"}
        place = http.post("/places", json={"name": "HQ", "timezone": "UTC"}, headers=h).json()["id"]
        door = http.post("/doors", json={"place_id": place, "name": "D"}, headers=h).json()["id"]
        group = http.post("/groups", json={"name": "G"}, headers=h).json()["id"]
        http.put(f"/groups/{group}/doors", json={"door_ids": [door]}, headers=h)
        member = http.post(
            "/members", json={"email": "b@example.com", "display_name": "B"}, headers=h
        ).json()["id"]
        http.post("/access_rights", json={"member_id": member, "group_id": group}, headers=h)
        reader_ids = [
            http.post(
                "/readers",
                json={"door_id": door, "name": f"R{i}", "model": "reader_pro_2_1", "firmware": "1"},
                headers=h,
            ).json()["id"]
            for i in range(readers)
        ]
        codes = [
            http.post(f"/readers/{r}/pairing_code", headers=h).json()["code"] for r in reader_ids
        ]
    c = build_container(
        Settings(database_url=database_url, operator_key=OPERATOR, secret_key=SECRET, dev_mode=True)
    )
    now = datetime.now(UTC)
    key = crypto.public_bytes(ec.generate_private_key(ec.SECP256R1()))
    pass_id = m.new_id("pass")
    with c.uow_factory(org) as uow:
        o = uow.organizations.get(org)
        o.sso_enforced = o.mfa_required = True
        uow.organizations.update(o)
        uow.repo(m.SsoConnection).add(
            m.SsoConnection(m.new_id("sso"), org, "oidc", True, {}, None, ["otp"], now, now)
        )
        uow.repo(m.Subscription).add(
            m.Subscription(
                m.new_id("sub"), org, "apple_pass", "active", now - timedelta(days=1), None, now
            )
        )
        uow.repo(m.ApplePass).add(
            m.ApplePass(pass_id, org, member, m.new_id("ser"), "active", now, now)
        )
        uow.repo(m.PassDevice).add(
            m.PassDevice(
                m.new_id("pdev"),
                org,
                pass_id,
                "iphone",
                m.new_id("dev"),
                "iPhone",
                "18.0",
                "46.0",
                key.hex(),
                hashlib.sha256(key).hexdigest(),
                "active",
                now,
            )
        )
    c.close()
    return h, pass_id, [hashlib.sha256(key).hexdigest(), *codes]


def _agent_worker(base: str, codes: list[str], key_id: str, conn: Connection) -> None:
    """One agent process: pairs its share of the readers, then reports per round.

    Commands from the parent: ("expect", reason) arms a round and is answered ("armed",);
    the worker answers ("done", [monotonic times]) once every one of its agents' caches
    gives ``reason`` for the pass, ("ready",) first for the initial snapshot, and stops
    on ("stop",).
    """
    asyncio.run(_agent_main(base, codes, key_id, conn))


async def _agent_main(base: str, codes: list[str], key_id: str, conn: Connection) -> None:
    from passgate.reader.agent import ReaderAgent
    from passgate.reader.store import AgentStore
    from passgate.reader.sync import SyncClient, pair

    agents = []
    for code in codes:
        agent = ReaderAgent(AgentStore(":memory:"))
        await asyncio.to_thread(pair, agent, base, code)
        agents.append(agent)
    reached: dict[int, float] = {}
    state: dict[str, Any] = {"wanted": Reason.GRANTED.value, "reported": False}

    def report_if_done() -> None:
        if not state["reported"] and len(reached) == len(agents):
            state["reported"] = True
            conn.send(("done", list(reached.values())))

    def watch(i: int, agent: ReaderAgent) -> None:
        original, changes = agent.apply, agent.apply_changes

        def check() -> None:
            now = datetime.now(UTC)
            verdict = decide_tap(
                agent.view,
                key_id=key_id,
                method=UnlockMethod.NFC,
                now=now,
                synced_at=now,
                halted=False,
            )
            if verdict.decision.reason.value == state["wanted"] and i not in reached:
                reached[i] = time.monotonic()
                report_if_done()

        def apply(version: int, content: dict[str, Any]) -> None:
            original(version, content)
            check()

        def apply_changes(version: int, content: dict[str, Any], body: dict[str, Any]) -> None:
            changes(version, content, body)  # a delta: the rows it names
            check()

        agent.apply = apply  # type: ignore[method-assign]
        agent.apply_changes = apply_changes  # type: ignore[method-assign]

    for i, agent in enumerate(agents):
        watch(i, agent)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(SyncClient(a).run(stop)) for a in agents]
    loop = asyncio.get_running_loop()
    try:
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "stop":
                break
            reached.clear()
            state["wanted"], state["reported"] = command[1], False
            conn.send(("armed",))
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for agent in agents:
            agent.store.close()


def _expect(conns: list[Connection], reason: str, limit: float, what: str) -> None:
    """Arm every worker for ``reason``; returns once all are armed."""
    for conn in conns:
        conn.send(("expect", reason))
    for conn in conns:
        _receive(conn, "armed", limit, what)


def _receive(conn: Connection, kind: str, limit: float, what: str) -> Any:
    deadline = time.monotonic() + limit
    while True:
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            raise click.ClickException(f"gave up waiting: {what}")
        message = conn.recv()
        if message[0] == kind:
            return message


def _agents(
    base: str,
    codes: list[str],
    key_id: str,
    rounds: int,
    headers: dict[str, str],
    pass_id: str,
    processes: int,
) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    shares = [codes[i::processes] for i in range(processes) if codes[i::processes]]
    pipes = [ctx.Pipe() for _ in shares]
    workers = [
        ctx.Process(target=_agent_worker, args=(base, share, key_id, child), daemon=True)
        for share, (_, child) in zip(shares, pipes, strict=True)
    ]
    conns = [parent for parent, _ in pipes]
    for w in workers:
        w.start()
    samples: list[float] = []
    try:
        # The first snapshot grants: every agent connected and synced.
        click.echo(f"connecting {len(codes) + 1} reader agents...", err=True)
        for conn in conns:
            _receive(conn, "done", 180, "agents connected")
        with httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=30) as http:
            bar = click.progressbar(
                length=rounds, label="suspend/resume rounds", file=sys.stderr, show_eta=False
            )
            for _ in range(rounds):
                for action, reason in (
                    ("suspend", Reason.PASS_SUSPENDED),
                    ("resume", Reason.GRANTED),
                ):
                    _expect(conns, reason.value, 30, "workers armed")
                    started = time.monotonic()
                    http.post(f"/apple_passes/{pass_id}/{action}").raise_for_status()
                    times = [
                        t
                        for conn in conns
                        for t in _receive(conn, "done", 30, f"{action} reached all readers")[1]
                    ]
                    if action == "suspend":
                        samples.extend((t - started) * 1000 for t in times)
                bar.update(1)
            bar.render_finish()
    finally:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for w in workers:
            w.join(15)
            if w.is_alive():
                w.terminate()
    return samples


@click.command("revocation")
@click.option(
    "--readers",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Connected reader agents",
)
@click.option(
    "--rounds",
    default=0,
    type=click.IntRange(0, 1000),
    help="Suspend rounds (default: enough for 1,000 samples, max 20)",
)
@click.option(
    "--agent-processes",
    "processes",
    default=2,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Processes the reader agents are spread over",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def revocation(readers: int, rounds: int, processes: int, as_json: bool) -> None:
    """Time from the suspend API call to every connected reader denying the pass."""
    rounds = rounds or max(3, min(20, 1000 // readers))
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(database_url, port, OPERATOR, SECRET), daemon=True
        )
        server.start()
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    ready = httpx.get(base + "/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    ready = False  # not listening yet
                if ready:
                    break
                if time.monotonic() > deadline:
                    raise click.ClickException("server did not start")
                time.sleep(0.05)
            headers, pass_id, rest = _setup(base, database_url, readers)
            samples = _agents(base, rest[1:], rest[0], rounds, headers, pass_id, processes)
        finally:
            server.terminate()
            server.join(10)
    ordered = sorted(samples)
    result = {
        "readers": readers,
        "agent_processes": min(processes, readers),
        "median_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(ordered[-1], 1),
    }
    click.echo(
        json.dumps(result)
        if as_json
        else f"{readers} readers: median {result['median_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms"
    )
