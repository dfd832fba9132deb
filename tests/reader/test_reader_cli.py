"""`passgate reader run` on an unpaired cache; `passgate reader-groups` as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from passgate.cli import main


def test_run_refuses_an_unpaired_cache(tmp_path: Path) -> None:
    cache = tmp_path / "fresh.db"
    result = CliRunner().invoke(main, ["reader", "run", "--cache", str(cache)])
    assert result.exit_code == 1
    assert "was never paired" in result.output and "passgate reader pair" in result.output
    assert "Traceback" not in result.output


def test_reader_groups_rotate_promote_retire_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSGATE_DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
    monkeypatch.setenv("PASSGATE_SECRET_KEY", "sk-" + "r" * 40)
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    org = json.loads(runner.invoke(main, ["create-org", "Acme", "--slug", "acme"]).output)["id"]

    def states() -> list[str]:
        listed = runner.invoke(main, ["reader-groups", "list", org])
        assert listed.exit_code == 0, listed.output
        return [json.loads(line)["state"] for line in listed.output.splitlines()]

    early = runner.invoke(main, ["reader-groups", "promote", org])
    assert early.exit_code == 1 and "rotate first" in early.output
    assert "Traceback" not in early.output
    made = runner.invoke(main, ["reader-groups", "rotate", org])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["state"] == "next"
    assert states() == ["current", "next"]
    assert runner.invoke(main, ["reader-groups", "promote", org]).exit_code == 0
    assert states() == ["previous", "current"]
    assert runner.invoke(main, ["reader-groups", "retire", org]).exit_code == 0
    assert states() == ["retired", "current"]


def test_the_agent_cache_is_private_to_its_owner(tmp_path: Path) -> None:
    from passgate.reader.store import AgentStore

    path = tmp_path / "agent.db"
    store = AgentStore(str(path))
    store.put({"aliro_key": "secret"})
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    store.close()
    assert modes["agent.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes
