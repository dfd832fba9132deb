"""The `passgate` command line, as an operator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from passgate.bootstrap import build_container
from passgate.cli import main
from passgate.config import Settings
from passgate.web.app import create_app


def test_every_command_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    commands = list(main.commands)
    assert {
        "serve",
        "migrate",
        "worker",
        "create-org",
        "grant-subscription",
        "create-api-key",
    } <= set(commands)
    for name in commands:
        sub = runner.invoke(main, [name, "--help"])
        assert sub.exit_code == 0, name
        assert "Usage:" in sub.output


def test_installed_entry_point_runs() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "passgate"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "passgate" in out.stdout


def test_operator_bootstraps_an_organization_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    monkeypatch.setenv("PASSGATE_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    made = runner.invoke(main, ["create-org", "Acme Corp", "--slug", "acme"])
    assert made.exit_code == 0, made.output
    org = json.loads(made.output)
    sub = runner.invoke(
        main,
        [
            "grant-subscription",
            org["id"],
            "--valid-from",
            "2026-01-01T00:00:00+00:00",
            "--valid-until",
            "2027-01-01T00:00:00+00:00",
        ],
    )
    assert sub.exit_code == 0, sub.output
    assert json.loads(sub.output)["status"] == "active"
    key = runner.invoke(main, ["create-api-key", org["id"], "--name", "ci"])
    assert key.exit_code == 0, key.output
    token = json.loads(key.output)["token"]

    container = build_container(Settings(database_url=url, dev_mode=True))
    with TestClient(create_app(container)) as client:
        r = client.get("/api/v1/organization", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["slug"] == "acme"
    container.close()


def test_command_line_errors_name_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSGATE_DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
    runner = CliRunner()
    runner.invoke(main, ["migrate"])
    bad = runner.invoke(main, ["create-org", "Acme", "--slug", "Not A Slug"])
    assert bad.exit_code != 0 and "validation_error (slug)" in bad.output
    missing = runner.invoke(main, ["grant-subscription", "org_" + "0" * 24])
    assert missing.exit_code != 0 and "not_found" in missing.output


def test_serve_refuses_to_start_without_a_server_secret_outside_dev_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PASSGATE_SECRET_KEY", raising=False)
    monkeypatch.delenv("PASSGATE_DEV_MODE", raising=False)
    result = CliRunner().invoke(main, ["serve", "--database-url", "sqlite://"])
    assert result.exit_code != 0 and "PASSGATE_SECRET_KEY is required" in result.output
