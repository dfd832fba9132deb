"""`passgate bench revocation`: suspend a pass, time until every connected reader denies.

A fresh database (SQLite by default, or PostgreSQL) is seeded by bulk inserts with
``--credentials`` credentials (members with an Apple Pass and an iPhone key, all with
access to the one door) and ``--readers`` Reader Pro 2.1 readers; ``--processes``
server processes serve them (reader i connects to process i mod P, so with P > 1 most
suspends are made through a process other than the one holding the reader). The
readers are light clients from ``bench.fleet``, many per worker process
(``--agent-processes``): each pairs for real, verifies every frame with
``proto.snapshot.CacheState`` and judges the watched credential with the agent's
decision code. Each round suspends the pass through the REST API (on the processes in
turn) and measures the time from the API call until every reader denies it
(``pass_suspended``), then resumes it. Bounded: every wait has a limit and every process
started is stopped.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import statistics
import sys
import time

import click
import httpx

from passgate.bench import databases, fleet, stop
from passgate.domain.access import Reason

CONNECT_GAP_S = 0.002  # between a worker's connects: 10,000 readers come in over ten seconds


@click.command("revocation")
@click.option(
    "--readers",
    default=100,
    show_default=True,
    type=click.IntRange(1, 20_000),
    help="Connected readers",
)
@click.option(
    "--credentials",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Credentials in every reader's cache (seeded by bulk inserts)",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Server processes on the one database",
)
@click.option(
    "--rounds",
    default=0,
    type=click.IntRange(0, 2000),
    help="Suspend rounds (default: enough for 1,000 reader samples, 3 to 20)",
)
@click.option(
    "--agent-processes",
    "workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Worker processes the simulated readers are spread over",
)
@click.option(
    "--backend",
    type=click.Choice(databases.BACKENDS),
    default="sqlite",
    show_default=True,
    help="Database (PostgreSQL: a throwaway server unless --database-url)",
)
@click.option(
    "--database-url",
    default=None,
    help="PostgreSQL server to create the bench database on (its maintenance database URL)",
)
@click.option(
    "--ws-deflate/--no-ws-deflate",
    "deflate",
    default=True,
    show_default=True,
    help="Offer permessage-deflate on the readers' WebSockets (server side)",
)
@click.option(
    "--initial-sync",
    type=click.Choice(["auto", "full", "resume"]),
    default="auto",
    show_default=True,
    help="full: every reader syncs its own snapshot; resume: one reader per worker does "
    "and the others reconnect as readers that hold that cache (recorded as applied); "
    "auto: resume from 10 million cached rows (readers x credentials) up",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def revocation(
    readers: int,
    credentials: int,
    processes: int,
    rounds: int,
    workers: int,
    backend: str,
    database_url: str | None,
    deflate: bool,
    initial_sync: str,
    as_json: bool,
) -> None:
    """Time from the suspend API call until every connected reader denies the pass."""
    rounds = rounds or max(3, min(20, 1000 // readers))
    operator, secret = "op-" + secrets.token_hex(20), "sk-" + secrets.token_hex(20)
    with contextlib.ExitStack() as stack:
        server_url = stack.enter_context(databases.servers((backend,), database_url))[backend]
        url = stack.enter_context(databases.fresh_database(backend, server_url))
        seeded = fleet.seed(url, readers=readers, credentials=credentials, full_readers=readers)
        servers = stack.enter_context(
            fleet.deployment(url, processes, operator, secret, deflate=deflate)
        )
        bases = [base for base, _ in servers]
        click.echo(f"connecting {readers:,} readers to {processes} server process(es)...", err=True)
        resume = initial_sync == "resume" or (
            initial_sync == "auto" and readers * credentials >= 10_000_000
        )
        presync = functools.partial(fleet.record_applied, url, seeded.org_id) if resume else None
        conns = stack.enter_context(
            fleet.fleet(
                bases, seeded.codes, seeded.watched_key, workers, CONNECT_GAP_S, presync=presync
            )
        )
        started = time.monotonic()
        fleet.expect(conns, Reason.GRANTED.value, 1800, "every reader synced")
        while resume and len(fleet.stats(conns)["synced"]) < readers:
            # A resumed reader counts once the server confirmed its cache (a heartbeat).
            if time.monotonic() - started > 1800:
                raise click.ClickException("resumed readers were not all confirmed")
            stop.sleep(1)
        sync_s = time.monotonic() - started
        # CPU of the rounds alone: the servers' from /proc, the workers' their own count.
        before = fleet.stats(conns)
        server_cpu = sum(fleet.cpu_seconds(pid) for _, pid in servers)
        rounds_started = time.monotonic()
        every: list[float] = []
        each: list[float] = []
        headers = {"Authorization": f"Bearer {seeded.token}"}
        with contextlib.ExitStack() as clients:
            # A new connection for each call: a kept-alive one idle past the server's
            # keep-alive time (5 s; a round at 10,000 readers takes seconds and the
            # calls go to each process in turn) can be reset as the next call is sent.
            fresh = httpx.Limits(max_keepalive_connections=0)
            https = [
                clients.enter_context(
                    httpx.Client(base_url=b + "/api/v1", headers=headers, timeout=60, limits=fresh)
                )
                for b in bases
            ]
            with click.progressbar(
                range(rounds), label="suspend/resume rounds", file=sys.stderr
            ) as bar:
                for n in bar:
                    http = https[n % len(https)]
                    for action, reason in (
                        ("suspend", Reason.PASS_SUSPENDED),
                        ("resume", Reason.GRANTED),
                    ):
                        for c in conns:
                            c.send(("expect", reason.value))
                        for c in conns:
                            fleet.receive(c, "armed", 60, "workers armed")
                        t0 = time.monotonic()
                        http.post(
                            f"/apple_passes/{seeded.watched_pass}/{action}"
                        ).raise_for_status()
                        what = f"{action} reached every reader"
                        times = [t for c in conns for t in fleet.receive(c, "done", 120, what)[1]]
                        if action == "suspend":
                            every.append((max(times) - t0) * 1000)
                            each.extend((t - t0) * 1000 for t in times)
        rounds_s = time.monotonic() - rounds_started
        server_cpu = sum(fleet.cpu_seconds(pid) for _, pid in servers) - server_cpu
        seen = fleet.stats(conns)
    reader_cpu = seen["cpu_s"] - before["cpu_s"]
    frames = max(1, seen["frames"] - before["frames"])
    result = {
        "readers": readers,
        "credentials": credentials,
        "processes": processes,
        "backend": backend,
        "ws_deflate": deflate,
        "suspends": len(every),
        "median_ms": round(statistics.median(every), 1),
        "p99_ms": round(fleet.percentile(every, 0.99), 1),
        "max_ms": round(max(every), 1),
        "reader_median_ms": round(statistics.median(each), 1),
        "reader_p99_ms": round(fleet.percentile(each, 0.99), 1),
        "initial_sync": "resume" if resume else "full",
        "initial_sync_s": round(sync_s, 1),
        "snapshots_taken": seen["snapshots"],
        "frames_rejected": seen["rejected"],
        # Connections that ended during the run (each reconnects and resumes), and the
        # most frequent reasons for both.
        "links_lost": seen["links_lost"],
        "reasons": dict(seen["reasons"].most_common(5)),
        "load_average": fleet.load_average(),
        # Where the machine's CPU went during the rounds: the server processes, and the
        # simulated readers' worker processes (which real readers would not share).
        "server_cpu_cores": round(server_cpu / rounds_s, 2),
        "reader_cpu_cores": round(reader_cpu / rounds_s, 2),
        "server_cpu_us_per_frame": round(server_cpu / frames * 1e6, 1),
        "reader_cpu_us_per_frame": round(reader_cpu / frames * 1e6, 1),
    }
    click.echo(
        json.dumps(result)
        if as_json
        else f"{readers:,} readers, {credentials:,} credentials, {processes} process(es), "
        f"{backend}: every reader denies after median {result['median_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms over {len(every)} suspends "
        f"(per reader: median {result['reader_median_ms']} ms, p99 {result['reader_p99_ms']} ms; "
        f"load average {result['load_average']}); {result['frames_rejected']} frames "
        f"rejected, {result['links_lost']} connections lost; CPU per frame sent to a "
        f"reader: {result['server_cpu_us_per_frame']} µs in the servers, "
        f"{result['reader_cpu_us_per_frame']} µs in the simulated readers"
    )
