"""`passgate bench tap` runs end to end on a small cache (figures are not asserted)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from passgate.cli import main

TIMES = (
    "fast_median_ms",
    "fast_p99_ms",
    "standard_median_ms",
    "standard_p99_ms",
    "agent_fast_median_ms",
    "agent_fast_p99_ms",
    "agent_standard_median_ms",
    "agent_standard_p99_ms",
    "agent_fast_commit_median_ms",
    "agent_standard_commit_median_ms",
    "agent_ble_fast_median_ms",
    "agent_ble_fast_p99_ms",
    "agent_ble_standard_median_ms",
    "agent_ble_standard_p99_ms",
    "floor_fast_ms",
    "floor_standard_ms",
    "ratio_fast",
    "ratio_standard",
)


def test_json_has_every_figure_and_stdout_holds_only_it() -> None:
    result = CliRunner().invoke(
        main, ["bench", "tap", "--taps", "3", "--credentials", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # nothing but the JSON object on stdout
    for key in TIMES:
        assert isinstance(figures[key], float) and figures[key] > 0, key
    assert figures["credentials"] == 5
    assert figures["taps"] == 3
    assert set(figures["targets_met"]) == {
        "agent_fast",
        "agent_standard",
        "ratio_fast",
        "ratio_standard",
    }
    assert all(v > 0 for v in figures["floor_standard_ops_ms"].values())
    assert result.stderr == ""  # no progress bar with --json
    # The devices run on another core unless only one is usable (and then it says why).
    if figures["device"] == "other-core":
        assert figures["device_core"] not in (None, figures["reader_core"])
        assert figures["device_fallback"] is None
    else:
        assert figures["device"] == "in-process" and figures["device_fallback"]


def test_in_process_devices_on_request() -> None:
    result = CliRunner().invoke(
        main,
        ["bench", "tap", "--taps", "2", "--credentials", "3", "--device", "in-process", "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["device"] == "in-process" and figures["device_core"] is None
    assert figures["device_fallback"] is None  # asked for, not a fallback
    assert figures["ratio_fast"] > 0 and figures["agent_fast_median_ms"] > 0


def test_text_report_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["bench", "tap", "--taps", "2", "--credentials", "1"])
    assert result.exit_code == 0, result.output
    assert "agent tap FAST" in result.stdout and " ms" in result.stdout
    assert "bare/floor STANDARD" in result.stdout
    assert "agent BLE wave FAST" in result.stdout
    assert "NFC devices: " in result.stdout
    assert "Tapping" in result.stderr  # the progress bar goes to stderr
    helped = runner.invoke(main, ["bench", "tap", "--help"])
    assert helped.exit_code == 0
    assert "--credentials" in helped.output and "Print one JSON object" in helped.output
