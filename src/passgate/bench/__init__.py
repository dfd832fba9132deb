"""`passgate bench ...`: measurements, kept out of the test suite (no timed assertions)."""

from __future__ import annotations

import click

from passgate.bench import stop
from passgate.bench.issue import issue


def _bench() -> None:
    # A benchmark stopped with SIGTERM (kill, a CI timeout) unwinds like Ctrl-C: the
    # server processes, reader workers and temporary PostgreSQL it started are stopped
    # by its own cleanup instead of being left running.
    stop.install()


bench = click.Group(
    "bench", help="Measure throughput and latency on this machine.", callback=_bench
)
bench.add_command(issue)
from passgate.bench.api import api  # noqa: E402
from passgate.bench.idle import idle  # noqa: E402
from passgate.bench.ingest import ingest  # noqa: E402
from passgate.bench.passkit import passkit  # noqa: E402
from passgate.bench.revocation import revocation  # noqa: E402
from passgate.bench.tap import tap  # noqa: E402

for command in (tap, revocation, idle, api, ingest, passkit):
    bench.add_command(command)
