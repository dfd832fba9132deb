"""`passgate bench revocation` and `passgate bench idle` run end to end, small: real
server processes, light readers that pair, sync and verify every frame; figures not
asserted, only that every suspend reached every reader and no frame was refused."""

from __future__ import annotations

import json

from click.testing import CliRunner

from passgate.cli import main


def test_revocation_reaches_every_reader_from_a_full_sync() -> None:
    result = CliRunner().invoke(
        main,
        ["bench", "revocation", "--readers", "6", "--credentials", "50", "--rounds", "2", "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["suspends"] == 2
    assert (figures["frames_rejected"], figures["links_lost"], figures["reasons"]) == (0, 0, {})
    assert figures["initial_sync"] == "full"
    assert figures["snapshots_taken"] == 6  # each reader synced its own snapshot
    assert 0 < figures["median_ms"] <= figures["max_ms"]
    # Where the CPU went during the rounds: both sides did some work for each frame.
    assert figures["server_cpu_us_per_frame"] > 0 and figures["reader_cpu_us_per_frame"] > 0
    assert figures["server_cpu_cores"] > 0 and figures["reader_cpu_cores"] > 0


def test_resumed_readers_on_two_processes_without_compression(postgres: str) -> None:
    """Readers that reconnect holding a synced cache are resumed from the log (two
    snapshots: one template reader per worker), across two server processes."""
    result = CliRunner().invoke(
        main,
        [
            *("bench", "revocation", "--readers", "8", "--credentials", "200"),
            *("--processes", "2", "--rounds", "2", "--initial-sync", "resume"),
            *("--backend", "postgresql", "--database-url", postgres),
            *("--no-ws-deflate", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["suspends"], figures["frames_rejected"], figures["links_lost"]) == (2, 0, 0)
    assert (figures["initial_sync"], figures["snapshots_taken"]) == ("resume", 2)
