"""Expected failures at the command line: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.ops.support import empty_pg_database

from passgate.cli import main
from passgate.sim.emulator import Emulator

PASSGATE = str(Path(sys.executable).parent / "passgate")


def _closed_port() -> int:
    """A loopback port nothing listens on (as a stopped PostgreSQL leaves it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSGATE_")}
    return subprocess.run(
        [PASSGATE, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _invoke(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Result:
    for name in [k for k in os.environ if k.startswith("PASSGATE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(main, args)


def _one_clear_line(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_a_stopped_postgresql_is_one_line_in_a_real_process_and_debug_shows_the_trace() -> None:
    env = {"PASSGATE_DATABASE_URL": f"postgresql+psycopg://u@127.0.0.1:{_closed_port()}/db"}
    plain = _run(["migrate"], env)
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    assert plain.stderr.startswith("Error: cannot use the database (PASSGATE_DATABASE_URL)")
    assert "Connection refused" in plain.stderr and len(plain.stderr.strip().splitlines()) == 1
    debug = _run(["--debug", "migrate"], env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert "OperationalError" in debug.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nonsense", "PASSGATE_DATABASE_URL: use sqlite:///"),
        ("mysql://u@h/db", "PASSGATE_DATABASE_URL: use sqlite:///"),
        ("postgresql://u@h:port/db", "PASSGATE_DATABASE_URL: use sqlite:///"),
    ],
)
def test_a_bad_database_url_names_the_variable(
    url: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _invoke(["migrate"], {"PASSGATE_DATABASE_URL": url}, monkeypatch)
    _one_clear_line(result, expected)


def test_an_unmigrated_database_says_to_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"}
    result = _invoke(["create-org", "Acme", "--slug", "acme"], env, monkeypatch)
    _one_clear_line(result, "run `passgate migrate`")


def test_an_unmigrated_postgresql_says_to_migrate(
    postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_pg_database(postgres, "passgate_unmigrated")
    result = _invoke(
        ["create-org", "Acme", "--slug", "acme"], {"PASSGATE_DATABASE_URL": url}, monkeypatch
    )
    _one_clear_line(result, "run `passgate migrate`")


def test_serve_no_migrate_refuses_a_schema_that_is_not_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db",
        "PASSGATE_DATA_DIR": str(tmp_path),
    }
    result = _invoke(["serve", "--dev", "--no-migrate"], env, monkeypatch)
    _one_clear_line(result, "schema is at none", "run `passgate migrate` first")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"PASSGATE_APP_REDIRECT_URIS": "passgate://x"},
            "PASSGATE_APP_REDIRECT_URIS: not valid JSON",
        ),
        ({"PASSGATE_WEBHOOK_MAX_ATTEMPTS": "0"}, "PASSGATE_WEBHOOK_MAX_ATTEMPTS: Input should be"),
        ({"PASSGATE_LOG_LEVEL": "loud"}, "PASSGATE_LOG_LEVEL: Input should be"),
        ({"PASSGATE_SECRET_KEY": "changeme"}, "PASSGATE_SECRET_KEY must be a random value"),
    ],
)
def test_a_bad_setting_names_its_environment_variable(
    env: dict[str, str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**env, "PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    result = _invoke(["migrate"], env, monkeypatch)
    _one_clear_line(result, "invalid setting", expected)
    assert "changeme" not in result.output  # a secret's value is never echoed


def test_an_unknown_passgate_variable_is_warned_about_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "PASSGATE_DATABSE_URL": "x"}
    result = _invoke(["migrate"], env, monkeypatch)
    assert result.exit_code == 0, result.output
    assert (
        "warning: PASSGATE_DATABSE_URL is not a Passgate setting and is ignored "
        "(did you mean PASSGATE_DATABASE_URL?)" in result.output
    )
    # Variables that options read (not settings) are known too.
    quiet = _invoke(
        ["migrate"], {**env, "PASSGATE_DATABSE_URL": "", "PASSGATE_SIM_HOME": "x"}, monkeypatch
    )
    assert "PASSGATE_SIM_HOME" not in quiet.output


def test_an_unreachable_server_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = f"http://127.0.0.1:{_closed_port()}"
    args = ["reader", "pair", "--server", server, "--code", "x", "--cache", f"{tmp_path}/c.db"]
    result = _invoke(args, {}, monkeypatch)
    _one_clear_line(result, f"cannot reach {server}/reader/v1/pair", "is it running?")


def test_a_denied_tap_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[dict[str, Any]] = [
        {"granted": True, "reason": "granted", "flow": "fast"},
        {"granted": False, "reason": "pass_suspended", "flow": "fast"},
    ]
    monkeypatch.setattr(Emulator, "tap", lambda self, name, door: answers.pop(0))
    home = str(tmp_path / "sim")
    opened = _invoke(["sim", "--home", home, "tap", "p1", "Front door"], {}, monkeypatch)
    assert opened.exit_code == 0 and "GRANTED: granted" in opened.output
    denied = _invoke(["sim", "--home", home, "tap", "p1", "Front door"], {}, monkeypatch)
    assert denied.exit_code == 1 and "DENIED: pass_suspended" in denied.output


def test_demo_port_zero_serves_on_a_free_port(tmp_path: Path) -> None:
    import re
    import signal

    import httpx

    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSGATE_")}
    args = [PASSGATE, "demo", "--port", "0", "--idp-port", "0", "--data-dir", str(tmp_path)]
    with (tmp_path / "stderr").open("w") as err:
        proc = subprocess.Popen(args, env=clean, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        found = None
        for line in proc.stdout:  # the banner comes once everything is up
            found = re.search(r"Dashboard:\s+(http://127\.0\.0\.1:(\d+))/dashboard", line)
            if found:
                break
        assert found is not None, "no dashboard URL in the banner"
        assert int(found.group(2)) not in (0, 8000)
        assert httpx.get(found.group(1) + "/healthz", timeout=10).json() == {"status": "ok"}
        progress = (tmp_path / "stderr").read_text()  # the start-up progress bar's label
        assert "starting the demo" in progress
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0


def test_the_worker_refuses_an_unmigrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db",
        "PASSGATE_SECRET_KEY": "sk-" + "z" * 40,
    }
    result = _invoke(["worker"], env, monkeypatch)
    _one_clear_line(result, "schema is at none", "run `passgate migrate` first")


def test_demo_on_a_port_in_use_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = ["demo", "--port", port, "--idp-port", "0", "--data-dir", str(tmp_path)]
        result = _invoke(args, {}, monkeypatch)
    _one_clear_line(result, f"127.0.0.1:{port} is in use", "--port 0 picks a free port")


def test_a_database_from_a_newer_passgate_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    env = {"PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    assert _invoke(["migrate"], env, monkeypatch).exit_code == 0
    with sqlite3.connect(tmp_path / "p.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    result = _invoke(["migrate"], env, monkeypatch)
    _one_clear_line(result, "database migration:", "9999", "a newer Passgate migrated")
