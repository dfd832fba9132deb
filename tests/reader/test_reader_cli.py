"""`passgate reader run` on a cache that was never paired: one clear line, exit 1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from passgate.cli import main


def test_run_refuses_an_unpaired_cache(tmp_path: Path) -> None:
    cache = tmp_path / "fresh.db"
    result = CliRunner().invoke(main, ["reader", "run", "--cache", str(cache)])
    assert result.exit_code == 1
    assert "was never paired" in result.output and "passgate reader pair" in result.output
    assert "Traceback" not in result.output
