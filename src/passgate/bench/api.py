"""`passgate bench api`: latency of the long list endpoints at 1k, 100k and 1M rows.

For each database (SQLite, PostgreSQL) one organization is filled step by step to each
size: that many members, each with an Apple Pass and an iPhone device, and that many
access events (taps over doors and readers, a tenth of them denials, spread over the
last 30 days). Rows go in by bulk load (bench/bulk.py: COPY on PostgreSQL, executemany on
SQLite, plain indexes built after the load, then ANALYZE), not through the API. At each
size the server runs in this process (uvicorn on a loopback port, real HTTP through
httpx, authenticated with an organization API key) and each endpoint is called
``--requests`` times after a few warm-up calls; p50 and p95 are printed in ms.

Endpoints: the first page of ``/apple_passes`` and ``/events``; a page from the middle
of each by cursor; ``/apple_passes?status=suspended``; ``/events`` for one member and
for one door; denials only (``granted=false``, no index of its own: it narrows the
organization's time index).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import sqlalchemy as sa

from passgate.bench.databases import BACKENDS, fresh_database, servers

DEFAULT_SIZES = "1000,100000,1000000"
CHUNK = 20_000
_MEMBER_COLUMNS = (
    *("id", "org_id", "email", "display_name", "role", "status", "external_id", "created_at"),
)
_PASS_COLUMNS = (
    *("id", "org_id", "member_id", "serial_number", "status", "created_at", "updated_at"),
    *("suspended_at", "deleted_at", "last_used_at"),
)
_DEVICE_COLUMNS = (
    *("id", "org_id", "pass_id", "kind", "device_id", "model", "os_version", "app_version"),
    *("public_key", "key_id", "status", "paired_device_id", "added_at", "replaced_at"),
    "last_used_at",
)
_EVENT_COLUMNS = (
    *("id", "org_id", "category", "type", "idempotency_key", "occurred_at", "recorded_at"),
    *("actor_type", "actor_id", "actor_name", "object_type", "object_id", "door_id"),
    *("reader_id", "member_id", "credential_id", "granted", "reason", "data"),
)
DOORS = 10
READERS_PER_DOOR = 2
WARMUP = 5
_REASONS_DENIED = ("no_access_right", "outside_schedule", "pass_suspended", "unknown_credential")


@dataclass
class World:
    org_id: str
    token: str
    doors: list[str]
    readers: list[str]
    members: int = 0  # seeded so far (members, passes, devices)
    events: int = 0
    first_member: str = ""  # the member of the first tap seeded


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter(
            "comma-separated row counts, e.g. 1000,100000", param_hint="--sizes"
        ) from None
    if not sizes or sizes[0] < 100 or sizes[-1] > 5_000_000:
        raise click.BadParameter("each size from 100 to 5,000,000", param_hint="--sizes")
    return sizes


def _chunks(total: int) -> Iterator[range]:
    for start in range(0, total, CHUNK):
        yield range(start, min(total, start + CHUNK))


def _world(engine: sa.Engine, now: datetime) -> World:
    from passgate.adapters.db import tables as t
    from passgate.adapters.db.repository import SqlUnitOfWork
    from passgate.domain import model as m
    from passgate.services.actors import Actor, ActorKind
    from passgate.services.auth.apikeys import create_api_key

    org = m.Organization(id=m.new_id("org"), name="Bench", slug="bench", created_at=now)
    with SqlUnitOfWork(engine, None) as uow:
        uow.organizations.add(org)
    with SqlUnitOfWork(engine, org.id) as uow:
        operator = Actor(
            kind=ActorKind.OPERATOR, id="operator", name="operator", org_id=None, role="operator"
        )
        token = create_api_key(
            uow, operator, org_id=org.id, name="bench", role="admin", now=now
        ).token
    place = m.new_id("plc")
    doors = [m.new_id("door") for _ in range(DOORS)]
    readers = [m.new_id("rdr") for _ in range(DOORS * READERS_PER_DOOR)]
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
                    "id": d,
                    "org_id": org.id,
                    "place_id": place,
                    "name": f"Door {i}",
                    "timezone": "UTC",
                    "lockdown": False,
                    "staleness_limit_s": 86400,
                    "schedule_id": None,
                    "created_at": now,
                }
                for i, d in enumerate(doors)
            ],
        )
        conn.execute(
            sa.insert(t.readers),
            [
                {
                    "id": r,
                    "org_id": org.id,
                    "door_id": doors[i // READERS_PER_DOOR],
                    "name": f"Reader {i}",
                    "model": "reader_pro_2_1",
                    "firmware": "2.1.0",
                    "tamper_protection": True,
                    "tampered": False,
                    "online": True,
                    "last_seen_at": now,
                    "created_at": now,
                }
                for i, r in enumerate(readers)
            ],
        )
    return World(org_id=org.id, token=token, doors=doors, readers=readers)


def _grow(
    engine: sa.Engine, w: World, size: int, now: datetime, rng: random.Random
) -> dict[str, float]:
    """Bring members (each with a pass and an iPhone) and events up to ``size`` rows.

    Bulk loaded (bench/bulk.py: COPY on PostgreSQL, executemany on SQLite) with the
    tables' plain indexes dropped and built again after the load, then ANALYZE. Returns
    the seconds each phase took (rows, indexes, statistics).
    """
    from passgate.adapters.db import tables as t
    from passgate.bench.bulk import bulk_connection, load, without_secondary_indexes
    from passgate.domain import model as m

    start_m, start_e = w.members, w.events
    year = timedelta(days=365).total_seconds()
    month = timedelta(days=30).total_seconds()
    tag = w.org_id[-8:]
    label = f"seeding {size:,} rows"
    steps = len(range(start_m, size, CHUNK)) + len(range(start_e, size, CHUNK))
    tables = (t.members, t.apple_passes, t.pass_devices, t.events)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with (
        without_secondary_indexes(engine, tables, phases),
        bulk_connection(engine) as conn,
        click.progressbar(length=steps, label=label, file=sys.stderr) as bar,
    ):
        for part in _chunks(size - start_m):
            members, passes, devices = [], [], []
            for j in part:
                i = start_m + j
                created = now - timedelta(seconds=year * (1 - i / 5_000_000) + rng.random())
                mid, pid = f"mbr_{tag}{i:016x}", m.new_id("pass")
                members.append(
                    (
                        mid,
                        w.org_id,
                        f"person{i}@bench.example",
                        f"Person {i}",
                        "member",
                        "active",
                        None,
                        created,
                    )
                )
                status = "suspended" if i % 20 == 7 else "active"
                suspended = created if status == "suspended" else None
                passes.append(
                    (
                        pid,
                        w.org_id,
                        mid,
                        f"{w.org_id}-{i}",
                        status,
                        created,
                        created,
                        suspended,
                        None,
                        None,
                    )
                )
                public_key = "04" + f"{tag}{i:056x}" * 2
                devices.append(
                    (
                        m.new_id("dev"),
                        w.org_id,
                        pid,
                        "iphone",
                        f"iphone-{i}",
                        "iPhone16,1",
                        "18.1",
                        "1.0",
                        public_key,
                        hashlib.sha256(bytes.fromhex(public_key)).hexdigest(),
                        "active",
                        None,
                        created,
                        None,
                        None,
                    )
                )
            with conn.begin():
                load(conn, t.members, _MEMBER_COLUMNS, members)
                load(conn, t.apple_passes, _PASS_COLUMNS, passes)
                load(conn, t.pass_devices, _DEVICE_COLUMNS, devices)
            bar.update(1)
        w.members = size
        for part in _chunks(size - start_e):
            events = []
            for j in part:
                i = start_e + j
                reader = rng.randrange(len(w.readers))
                rid = w.readers[reader]
                member = rng.randrange(max(1, w.members))
                granted = rng.random() >= 0.1
                events.append(
                    (
                        m.new_id("evt"),
                        w.org_id,
                        "access",
                        "access.granted" if granted else "access.denied",
                        f"{rid}:{i}",
                        now - timedelta(seconds=month * rng.random()),
                        now,
                        "reader",
                        rid,
                        None,
                        "reader",
                        rid,
                        w.doors[reader // READERS_PER_DOOR],
                        rid,
                        f"mbr_{tag}{member:016x}",
                        None,
                        granted,
                        "granted" if granted else rng.choice(_REASONS_DENIED),
                        {"sequence": i, "method": "nfc"},
                    )
                )
            if not w.first_member:
                w.first_member = str(events[0][14])  # a member with taps
            with conn.begin():
                load(conn, t.events, _EVENT_COLUMNS, events)
            bar.update(1)
        w.events = size
        phases["rows_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        # Fresh statistics, as autovacuum (PostgreSQL) or PRAGMA optimize (SQLite) keep them.
        conn.exec_driver_sql("ANALYZE")
    phases["analyze_s"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in phases.items()}


def _middle_cursors(engine: sa.Engine, w: World) -> dict[str, str]:
    from passgate.adapters.db import tables as t
    from passgate.services.paging import Position, encode_cursor

    with engine.connect() as conn:
        e = t.events.c
        ev = conn.execute(
            sa.select(e.occurred_at, e.id)
            .where(e.org_id == w.org_id)
            .order_by(e.occurred_at.desc(), e.id.desc())
            .offset(w.events // 2)
            .limit(1)
        ).one()
        p = t.apple_passes.c
        ps = conn.execute(
            sa.select(p.created_at, p.id)
            .where(p.org_id == w.org_id)
            .order_by(p.created_at.desc(), p.id.desc())
            .offset(w.members // 2)
            .limit(1)
        ).one()
    return {
        "events": encode_cursor("events", Position(ev[0], ev[1])),
        "apple_passes": encode_cursor("apple_passes", Position(ps[0], ps[1])),
    }


def _endpoints(w: World, cursors: dict[str, str]) -> dict[str, str]:
    return {
        "apple_passes": "/api/v1/apple_passes",
        "apple_passes (middle, by cursor)": "/api/v1/apple_passes?cursor="
        + cursors["apple_passes"],
        "apple_passes?status=suspended": "/api/v1/apple_passes?status=suspended",
        "events": "/api/v1/events",
        "events (middle, by cursor)": f"/api/v1/events?cursor={cursors['events']}",
        "events?member_id": f"/api/v1/events?member_id={w.first_member}",
        "events?door_id": f"/api/v1/events?door_id={w.doors[0]}",
        "events?granted=false": "/api/v1/events?granted=false",
    }


def _measure(
    base: str, w: World, paths: dict[str, str], requests: int
) -> dict[str, dict[str, float]]:
    import httpx

    out = {}
    headers = {"Authorization": f"Bearer {w.token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for name, path in paths.items():
            timings = []
            for k in range(WARMUP + requests):
                start = time.perf_counter()
                r = http.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                if r.status_code != 200:
                    raise click.ClickException(f"{path}: {r.status_code} {r.text[:200]}")
                if k >= WARMUP:
                    timings.append(elapsed)
            timings.sort()
            out[name] = {
                "p50_ms": round(statistics.median(timings), 2),
                "p95_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.95))], 2),
                "items": len(r.json()),
            }
    return out


def _serve(url: str) -> tuple[Callable[[], None], str]:
    import uvicorn

    from passgate.bench.fleet import free_port as _free_port
    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.web.app import create_app

    c = build_container(
        Settings(
            database_url=url,
            dev_mode=True,
            secret_key="b" * 40,
            metrics_enabled=False,
            in_process_worker=False,
        )
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(c), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join()
        c.close()

    return stop, f"http://127.0.0.1:{port}"


def run(
    backends: tuple[str, ...], sizes: list[int], requests: int, database_url: str | None
) -> dict[str, Any]:
    from passgate.adapters.db.engine import create_engine

    results: dict[str, Any] = {}
    now = datetime.now(UTC)
    with servers(backends, database_url) as found:
        for backend in backends:
            results[backend] = {}
            with fresh_database(backend, found[backend]) as url:
                engine = create_engine(url)
                try:
                    w = _world(engine, now)
                    rng = random.Random(7)  # noqa: S311 (sample data, not secrets)
                    for size in sizes:
                        started = time.perf_counter()
                        phases = _grow(engine, w, size, now, rng)
                        seeded = time.perf_counter() - started
                        stop, base = _serve(url)
                        try:
                            figures = _measure(
                                base, w, _endpoints(w, _middle_cursors(engine, w)), requests
                            )
                        finally:
                            stop()
                        results[backend][str(size)] = {
                            "seed_s": round(seeded, 1),
                            "seed_phases": phases,
                            "endpoints": figures,
                            "load_average": [round(x, 2) for x in os.getloadavg()],
                        }
                        # Each size as it is measured (a long run shows its figures early).
                        click.echo(
                            json.dumps({backend: {str(size): results[backend][str(size)]}}),
                            err=True,
                        )
                finally:
                    engine.dispose()
    return results


@click.command("api")
@click.option(
    "--sizes",
    default=DEFAULT_SIZES,
    show_default=True,
    help="Rows per list (members with passes, and events), comma-separated",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(BACKENDS),
    help="Database to measure (repeatable) [default: both]",
)
@click.option(
    "--database-url",
    help="PostgreSQL server to create the bench database in (dropped afterwards); "
    "default: a throwaway server started for the run",
)
@click.option(
    "--requests",
    default=100,
    show_default=True,
    type=click.IntRange(5, 10_000),
    help="Timed calls per endpoint and size",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def api(
    sizes: str, backends: tuple[str, ...], database_url: str | None, requests: int, as_json: bool
) -> None:
    """p50/p95 latency of GET /apple_passes and /events (and filtered pages) per size."""
    chosen = backends or BACKENDS
    if database_url and not database_url.startswith("postgresql"):
        raise click.BadParameter("a postgresql:// URL", param_hint="--database-url")
    results = run(chosen, _sizes(sizes), requests, database_url)
    if as_json:
        click.echo(json.dumps(results))
        return
    for backend, by_size in results.items():
        for size, data in by_size.items():
            load = " ".join(str(x) for x in data["load_average"])
            click.echo(
                f"{backend}, {int(size):,} rows (seeded in {data['seed_s']} s, load {load}):"
            )
            for name, f in data["endpoints"].items():
                click.echo(f"  {name:36} p50 {f['p50_ms']:8.2f} ms   p95 {f['p95_ms']:8.2f} ms")
