"""`passgate bench idle`: what connected readers cost a server while nothing changes.

Seeds ``--credentials`` credentials (bulk inserts) and ``--readers`` readers, connects
them (light clients from ``bench.fleet``: real pairing, every frame verified), waits
until every one holds its snapshot, then samples the server processes' CPU time from
``/proc`` over ``--seconds`` during which nothing changes: what remains is heartbeats
(one signed frame per reader every ``PASSGATE_READER_HEARTBEAT_S``) and their answers
(the reader's "last seen", which must wake no rebuild). Then a new reader connects and
the time until it holds the full snapshot is measured.

``--full-readers`` of the readers are Reader Pro 2.1 and hold the whole cache; the others
are a model that receives no Apple Pass keys (R13), so a thousand of them fit in the
memory of the benchmark machine while the server keeps them connected, heartbeating and
rebuildable like any reader. The new reader is a Pro 2.1 and syncs every credential.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import time

import click

from passgate.bench import databases, fleet, stop


def _wait_synced(conns: list, count: int, limit_s: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + limit_s
    with click.progressbar(length=count, label="readers synced", file=sys.stderr) as bar:
        done = 0
        while True:
            seen = fleet.stats(conns)
            now = len(seen["synced"])
            bar.update(now - done)
            done = now
            if now >= count:
                return seen
            if time.monotonic() > deadline:
                raise click.ClickException(f"only {now} of {count} readers synced")
            stop.sleep(1)


@click.command("idle")
@click.option(
    "--readers",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 20_000),
    help="Connected readers",
)
@click.option(
    "--credentials",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Credentials of the organization",
)
@click.option(
    "--full-readers",
    default=1,
    show_default=True,
    type=click.IntRange(0, 20_000),
    help="Readers that hold every credential (the rest: readiness only)",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Server processes on the one database",
)
@click.option(
    "--seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(5, 3600),
    help="How long the idle CPU is sampled",
)
@click.option(
    "--agent-processes",
    "workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Worker processes of the simulated readers",
)
@click.option(
    "--backend",
    type=click.Choice(databases.BACKENDS),
    default="sqlite",
    show_default=True,
    help="Database (PostgreSQL: a throwaway server unless --database-url)",
)
@click.option(
    "--database-url", default=None, help="PostgreSQL server to create the bench database on"
)
@click.option(
    "--ws-deflate/--no-ws-deflate",
    "deflate",
    default=True,
    show_default=True,
    help="Offer permessage-deflate on the readers' WebSockets (server side)",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def idle(
    readers: int,
    credentials: int,
    full_readers: int,
    processes: int,
    seconds: float,
    workers: int,
    backend: str,
    database_url: str | None,
    deflate: bool,
    as_json: bool,
) -> None:
    """Server CPU with connected readers and nothing changing; a new reader's full sync."""
    full_readers = min(full_readers, readers)
    operator, secret = "op-" + secrets.token_hex(20), "sk-" + secrets.token_hex(20)
    with contextlib.ExitStack() as stack:
        server_url = stack.enter_context(databases.servers((backend,), database_url))[backend]
        url = stack.enter_context(databases.fresh_database(backend, server_url))
        # Reader 0 is the new one, connected after the idle period.
        seeded = fleet.seed(
            url, readers=readers + 1, credentials=credentials, full_readers=full_readers + 1
        )
        servers = stack.enter_context(
            fleet.deployment(url, processes, operator, secret, deflate=deflate)
        )
        bases = [base for base, _ in servers]
        pids = [pid for _, pid in servers]
        conns = stack.enter_context(
            fleet.fleet(bases, seeded.codes[1:], seeded.watched_key, workers, connect_gap_s=0.002)
        )
        _wait_synced(conns, readers, 3600)
        time.sleep(3)  # the last snapshots' sends and "last seen" writes settle
        click.echo(f"sampling server CPU for {seconds:.0f} s with nothing changing...", err=True)
        cpu0, t0, frames0 = sum(map(fleet.cpu_seconds, pids)), time.monotonic(), fleet.stats(conns)
        stop.sleep(seconds)
        cpu1, t1, frames1 = sum(map(fleet.cpu_seconds, pids)), time.monotonic(), fleet.stats(conns)
        idle_pct = (cpu1 - cpu0) / (t1 - t0) * 100
        rss = sum(map(fleet.rss_mib, pids))
        rebuild_frames = frames1["frames"] - frames0["frames"]
        click.echo("a new reader syncs the full snapshot...", err=True)
        with fleet.fleet(bases[:1], seeded.codes[:1], seeded.watched_key, 1) as one:
            new = _wait_synced(one, 1, 600)
        sync_s = new["synced"][0]
    result = {
        "readers": readers,
        "full_readers": full_readers,
        "credentials": credentials,
        "processes": processes,
        "backend": backend,
        "ws_deflate": deflate,
        "idle_seconds": round(t1 - t0, 1),
        "idle_cpu_percent_of_core": round(idle_pct, 2),
        "frames_while_idle": rebuild_frames,
        "server_rss_mib": round(rss, 1),
        "new_reader_full_sync_s": round(sync_s, 2),
        "load_average": fleet.load_average(),
    }
    click.echo(
        json.dumps(result)
        if as_json
        else f"{readers:,} readers ({full_readers:,} with all {credentials:,} credentials), "
        f"{processes} process(es), {backend}: idle server CPU {result['idle_cpu_percent_of_core']}"
        f"% of one core over {result['idle_seconds']} s ({rebuild_frames} cache frames sent), "
        f"server memory {result['server_rss_mib']} MiB; "
        f"a new reader's full snapshot in {result['new_reader_full_sync_s']} s "
        f"(load average {result['load_average']})"
    )
