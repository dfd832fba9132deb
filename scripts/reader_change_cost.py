"""What one revocation costs the reader hub, by organization size (the change log path).

Seeds an organization with N members, each with an Apple Pass and one iPhone key, all
on one door with 10 readers; loads the hub's state once; then suspends (and restores)
random passes one at a time and times what the hub does for each: read the log entries,
reload the rows they name, update the shared sections, build each reader's delta and
sign it (one shared statement for the readers at one base). Prints ms per change
(median and p95), rows loaded and signatures per change, and for comparison the cost
of loading the whole organization once (what every change cost before the change log).

    .venv/bin/python scripts/reader_change_cost.py --sizes 1000,10000,100000
    .venv/bin/python scripts/reader_change_cost.py --database-url postgresql://... --json
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.adapters.db import migrate
from passgate.adapters.db import tables as t
from passgate.adapters.db.engine import create_engine
from passgate.adapters.db.repository import SqlUnitOfWorkFactory
from passgate.domain import model as m
from passgate.proto import snapshot as snap
from passgate.services.reader_hub import _body
from passgate.services.readers import reader_state

READERS = 10


def _seed(engine: sa.Engine, size: int) -> tuple[str, list[str], list[str]]:
    now = datetime.now(UTC)
    org = m.new_id("org")
    place, door, group = m.new_id("plc"), m.new_id("door"), m.new_id("grp")
    readers = [m.new_id("rdr") for _ in range(READERS)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.organizations),
            [{"id": org, "name": "Cost", "slug": org[-12:].lower(), "sso_enforced": False,
              "mfa_required": False, "created_at": now}],
        )  # fmt: skip
        conn.execute(
            sa.insert(t.places),
            [{"id": place, "org_id": org, "name": "HQ", "timezone": "UTC", "address": None,
              "created_at": now}],
        )  # fmt: skip
        conn.execute(
            sa.insert(t.doors),
            [{"id": door, "org_id": org, "place_id": place, "name": "Front", "timezone": "UTC",
              "lockdown": False, "staleness_limit_s": 86400, "schedule_id": None,
              "created_at": now}],
        )  # fmt: skip
        conn.execute(
            sa.insert(t.groups),
            [{"id": group, "org_id": org, "name": "All", "description": None,
              "schedule_id": None, "created_at": now}],
        )  # fmt: skip
        conn.execute(
            sa.insert(t.group_doors), [{"org_id": org, "group_id": group, "door_id": door}]
        )
        conn.execute(
            sa.insert(t.readers),
            [{"id": r, "org_id": org, "door_id": door, "name": f"R{i}", "model": "reader_pro_2_1",
              "firmware": "2.1.0", "tamper_protection": True, "tampered": False, "online": True,
              "last_seen_at": now, "created_at": now} for i, r in enumerate(readers)],
        )  # fmt: skip
    passes: list[str] = []
    for start in range(0, size, 5000):
        members, rights, passes_rows, devices = [], [], [], []
        for i in range(start, min(size, start + 5000)):
            mid, pid = f"mbr_{org[-8:]}{i:08d}", f"pass_{org[-8:]}{i:08d}"
            members.append(
                {"id": mid, "org_id": org, "email": f"m{i}@example.com", "display_name": f"M{i}",
                 "role": "member", "status": "active", "external_id": None, "created_at": now}
            )  # fmt: skip
            rights.append(
                {"id": f"ar_{org[-8:]}{i:08d}", "org_id": org, "member_id": mid,
                 "group_id": group, "valid_from": None, "valid_until": None, "created_at": now}
            )  # fmt: skip
            passes_rows.append(
                {"id": pid, "org_id": org, "member_id": mid, "serial_number": f"{org}-{i}",
                 "status": "active", "created_at": now, "updated_at": now, "suspended_at": None,
                 "deleted_at": None, "last_used_at": None}
            )  # fmt: skip
            devices.append(
                {"id": f"dev_{org[-8:]}{i:08d}", "org_id": org, "pass_id": pid, "kind": "iphone",
                 "device_id": f"iphone-{i}", "model": "iPhone16,1", "os_version": "18.1",
                 "app_version": "1.0", "public_key": "04" + f"{i:0128x}",
                 "key_id": f"{org[-8:]}{i:056x}", "status": "active", "paired_device_id": None,
                 "added_at": now, "replaced_at": None, "last_used_at": None}
            )  # fmt: skip
            passes.append(pid)
        with engine.begin() as conn:
            conn.execute(sa.insert(t.members), members)
            conn.execute(sa.insert(t.access_rights), rights)
            conn.execute(sa.insert(t.apple_passes), passes_rows)
            conn.execute(sa.insert(t.pass_devices), devices)
    return org, readers, passes


def _measure(database_url: str, size: int, changes: int) -> dict[str, Any]:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    factory = SqlUnitOfWorkFactory(engine)
    org, readers, passes = _seed(engine, size)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    state = reader_state.OrgState(org)
    started = time.perf_counter()
    with factory(org, write=False) as uow:
        head = uow.reader_changes.heads([org]).get(org, (0, 0))[0]
        state.load(uow, head, now)
    load_ms = (time.perf_counter() - started) * 1000
    views = {r: state.view(r) for r in readers}
    versions = dict.fromkeys(readers, reader_state.version_of(head))
    smalls = {r: dict(v.small) for r, v in views.items() if v is not None}
    rng = random.Random(7)  # noqa: S311 (which passes to change, not a secret)
    write_ms: list[float] = []
    hub_ms: list[float] = []
    rows: list[int] = []
    signatures: list[int] = []
    for i in range(changes):
        pid = rng.choice(passes)
        started = time.perf_counter()
        with factory(org) as uow:
            found = uow.repo(m.ApplePass).get(pid)
            active = found.status == m.PassStatus.ACTIVE
            found.status = m.PassStatus.SUSPENDED if active else m.PassStatus.ACTIVE
            found.updated_at = now + timedelta(seconds=i)
            uow.repo(m.ApplePass).update(found)
        write_ms.append((time.perf_counter() - started) * 1000)
        before = state.rows_loaded
        started = time.perf_counter()
        with factory(org, write=False) as uow:
            new_head = uow.reader_changes.heads([org])[org][0]
            entries = uow.reader_changes.after(org, state.seq, new_head)
            state.begin_pass()
            state.apply(uow, new_head, [(k, o) for _, k, o in entries], now)
        memo: dict[int, Any] = {}
        signed: dict[Any, tuple[dict[str, Any], str]] = {}
        for r in readers:
            view = state.view(r)
            assert view is not None
            body = _body(smalls[r], view, memo)
            assert body is not None
            version = reader_state.version_of(state.seq)
            # As the hub does for agents that take shared deltas: one statement per base.
            group = (versions[r], id(view.credentials), id(view.members))
            if group not in signed:
                statement = snap.shared_statement(
                    org_id=org,
                    base_version=versions[r],
                    version=version,
                    base={"credentials": view.credentials.before},
                    body=body,
                )
                signed[group] = (statement, snap.sign_statement(key, statement))
            statement, sig = signed[group]
            snap.shared_delta(statement, sig, reader_id=r, body=body, link_nonce="n" * 32)
            view.digest()
            versions[r] = version
        signatures.append(len(signed))
        hub_ms.append((time.perf_counter() - started) * 1000)
        rows.append(state.rows_loaded - before)
    engine.dispose()
    return {
        "credentials": size,
        "readers": READERS,
        "changes": changes,
        "hub_ms_median": round(statistics.median(hub_ms), 2),
        "hub_ms_p95": round(sorted(hub_ms)[int(0.95 * (len(hub_ms) - 1))], 2),
        "write_ms_median": round(statistics.median(write_ms), 2),
        "rows_loaded_per_change": max(rows),
        "signatures_per_change": max(signatures),
        "first_load_ms": round(load_ms, 1),
        "whole_load_ms": round(load_ms, 1),
    }


@click.command()
@click.option("--sizes", default="1000,10000,100000", show_default=True, help="credentials")
@click.option("--changes", default=50, show_default=True, help="suspensions per size")
@click.option("--database-url", default=None, help="default: a fresh SQLite file per size")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per size")
def main(sizes: str, changes: int, database_url: str | None, as_json: bool) -> None:
    """Time the reader hub's work per revocation at several organization sizes."""
    for size in [int(x) for x in sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            url = database_url or f"sqlite:///{Path(tmp) / 'cost.db'}"
            result = _measure(url, size, changes)
        if as_json:
            print(json.dumps(result))
        else:
            print(
                f"{size:>7} credentials, {READERS} readers: hub {result['hub_ms_median']} ms"
                f" per change (p95 {result['hub_ms_p95']} ms),"
                f" {result['rows_loaded_per_change']} rows loaded,"
                f" {result['signatures_per_change']} signature(s); the write"
                f" {result['write_ms_median']} ms; whole load {result['whole_load_ms']} ms,"
                f" first load {result['first_load_ms']} ms"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
