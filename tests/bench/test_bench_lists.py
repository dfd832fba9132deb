"""`passgate bench api` and `passgate bench ingest` run end to end, small, on both
databases (PostgreSQL: the suite's server through --database-url); figures not asserted."""

from __future__ import annotations

import json

from click.testing import CliRunner

from passgate.cli import main


def test_bench_api_prints_p50_and_p95_per_endpoint_and_size(postgres: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            *("bench", "api", "--sizes", "150,300", "--requests", "5"),
            *("--database-url", postgres, "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) == {"sqlite", "postgresql"}
    for by_size in figures.values():
        assert set(by_size) == {"150", "300"}
        for data in by_size.values():
            endpoints = data["endpoints"]
            assert {"apple_passes", "events", "events (middle, by cursor)"} <= set(endpoints)
            for f in endpoints.values():
                assert 0 < f["p50_ms"] <= f["p95_ms"]
            assert endpoints["events"]["items"] == 50  # a full first page at every size
            assert endpoints["events?member_id"]["items"] >= 1


def test_bench_ingest_stores_each_event_once_on_both_databases(postgres: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            *("bench", "ingest", "--events", "1200", "--batch", "500", "--webhooks", "1"),
            *("--database-url", postgres, "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for backend in ("sqlite", "postgresql"):
        assert figures[backend]["events"] == 1200  # the bench checked the stored count
        assert figures[backend]["events_per_second"] > 0


def test_bench_api_refuses_bad_sizes() -> None:
    result = CliRunner().invoke(main, ["bench", "api", "--sizes", "ten", "--backend", "sqlite"])
    assert result.exit_code == 2 and "--sizes" in result.output
    assert "Traceback" not in result.output
