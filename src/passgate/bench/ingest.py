"""`passgate bench ingest`: reader events stored per second, SQLite and PostgreSQL.

The path each batch a reader sends takes on the server, without the WebSocket: the
``events`` message is decoded and typed (``proto.link.decode``), its reasons checked, and stored by
``reader_events.ingest`` in one write transaction per batch, committed durably (SQLite
``synchronous=FULL``; PostgreSQL with fsync on). Each batch holds ``--batch`` taps from
one reader: nine in ten granted (each granted tap moves its pass's and device's "last
used"), one in ten denied; with ``--webhooks N`` every event also queues N webhook
deliveries in the same transaction. A second pass resends every batch unchanged (a
reader that lost its acknowledgements): nothing is stored twice, and the figure is how
fast the duplicates are acknowledged. The bench checks the stored count at the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import sqlalchemy as sa

from passgate.bench.databases import BACKENDS, fresh_database, servers


def _world(url: str, webhooks: int) -> tuple[Any, str, str, str, str]:
    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.domain import model as m

    c = build_container(
        Settings(
            database_url=url,
            dev_mode=True,
            secret_key="b" * 40,
            metrics_enabled=False,
            in_process_worker=False,
        )
    )
    now = c.clock.now()
    org = m.Organization(id=m.new_id("org"), name="Bench", slug="bench", created_at=now)
    with c.uow_factory(None) as uow:
        uow.organizations.add(org)
    with c.uow_factory(org.id) as uow:
        place = m.Place(m.new_id("plc"), org.id, "HQ", "UTC", None, now)
        uow.repo(m.Place).add(place)
        door = m.Door(m.new_id("door"), org.id, place.id, "Front", "UTC", False, 86400, None, now)
        uow.repo(m.Door).add(door)
        reader = m.Reader(
            m.new_id("rdr"),
            org.id,
            door.id,
            "R",
            "reader_pro_2_1",
            "2.1.0",
            True,
            False,
            True,
            now,
            now,
        )
        uow.repo(m.Reader).add(reader)
        member = m.Member(
            m.new_id("mbr"), org.id, "b@bench.example", "B", "member", "active", None, now
        )
        uow.repo(m.Member).add(member)
        apple_pass = m.ApplePass(m.new_id("pass"), org.id, member.id, "s-1", "active", now, now)
        uow.repo(m.ApplePass).add(apple_pass)
        key_id = "k" * 64
        uow.repo(m.PassDevice).add(
            m.PassDevice(
                m.new_id("dev"),
                org.id,
                apple_pass.id,
                "iphone",
                "iphone-1",
                "iPhone16,1",
                "18.1",
                "1.0",
                "04" + "00" * 64,
                key_id,
                "active",
                now,
            )
        )
        for i in range(webhooks):
            uow.repo(m.Webhook).add(
                m.Webhook(
                    id=m.new_id("whk"),
                    org_id=org.id,
                    url=f"https://hooks{i}.bench.example/in",
                    secret_encrypted=c.secret_box.seal(b"s" * 32),
                    event_types=[],
                    active=True,
                    created_at=now,
                )
            )
    return c, org.id, reader.id, member.id, f"{apple_pass.id}|{key_id}"


def _batches(events: int, batch: int, member: str, cred: str) -> list[list[dict[str, Any]]]:
    pass_id, key_id = cred.split("|")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for first in range(0, events, batch):
        items = []
        for seq in range(first, min(events, first + batch)):
            granted = seq % 10 != 9
            items.append(
                {
                    "sequence": seq,
                    "kind": "access",
                    "occurred_at": (start + timedelta(milliseconds=seq * 250)).isoformat(),
                    "granted": granted,
                    "reason": "granted" if granted else "no_access_right",
                    "member_id": member,
                    "credential_id": pass_id,
                    "method": "nfc",
                    "flow": "fast",
                    "key_id": key_id,
                }
            )
        out.append(items)
    return out


def _run(
    c: Any, org_id: str, reader: str, batches: list[list[dict[str, Any]]], label: str
) -> float:
    from passgate.proto import link
    from passgate.services.readers.reader_events import check_reasons, ingest

    total = sum(len(b) for b in batches)
    frames = [json.dumps({"type": "events", "items": b}) for b in batches]
    with click.progressbar(frames, label=label, file=sys.stderr) as bar:
        started = time.perf_counter()
        for text in bar:
            msg = link.decode(text)
            assert isinstance(msg, link.Events)
            check_reasons(msg.items)
            with c.uow_factory(org_id) as uow:
                acked = ingest(uow, reader, msg.items, c.clock.now())
            if len(acked) != len(msg.items):
                raise click.ClickException("a batch was not fully acknowledged")
        elapsed = time.perf_counter() - started
    return total / elapsed


def measure(
    backend: str, server: str | None, events: int, batch: int, webhooks: int
) -> dict[str, Any]:
    from passgate.adapters.db import tables as t

    with fresh_database(backend, server) as url:
        c, org_id, reader, member, cred = _world(url, webhooks)
        try:
            batches = _batches(events, batch, member, cred)
            rate = _run(c, org_id, reader, batches, f"{backend}: ingest")
            resend = _run(c, org_id, reader, batches, f"{backend}: resend")
            with c.engine.connect() as conn:
                stored = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.events)
                    .where(t.events.c.reader_id == reader)
                ).scalar_one()
                queued = conn.execute(sa.select(sa.func.count()).select_from(t.outbox)).scalar_one()
        finally:
            c.close()
    if stored != events or queued != events * webhooks:
        raise click.ClickException(
            f"{backend}: {stored} events and {queued} deliveries stored, "
            f"expected {events} and {events * webhooks}"
        )
    return {
        "events_per_second": round(rate),
        "resent_per_second": round(resend),
        "events": events,
        "batch": batch,
        "webhooks": webhooks,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


@click.command("ingest")
@click.option(
    "--events",
    default=50_000,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Events to store",
)
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Events per batch (the reader link's maximum is 500)",
)
@click.option(
    "--webhooks",
    default=0,
    show_default=True,
    type=click.IntRange(0, 20),
    help="Active webhooks: each event queues one delivery per webhook",
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def ingest(
    events: int,
    batch: int,
    webhooks: int,
    backends: tuple[str, ...],
    database_url: str | None,
    as_json: bool,
) -> None:
    """Reader events stored per second (validated, batched, durable) on each database."""
    if database_url and not database_url.startswith("postgresql"):
        raise click.BadParameter("a postgresql:// URL", param_hint="--database-url")
    chosen = backends or BACKENDS
    results = {}
    with servers(chosen, database_url) as found:
        for backend in chosen:
            results[backend] = measure(backend, found[backend], events, batch, webhooks)
    if as_json:
        click.echo(json.dumps(results))
        return
    for backend, r in results.items():
        load = " ".join(str(x) for x in r["load_average"])
        click.echo(
            f"{backend}: {r['events_per_second']:,} events/s stored, "
            f"{r['resent_per_second']:,} resent events/s acknowledged "
            f"({r['events']:,} events, batches of {r['batch']}, {r['webhooks']} webhooks, "
            f"load {load})"
        )
