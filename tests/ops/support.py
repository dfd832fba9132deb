"""Helpers for operations tests: empty databases, real `passgate` processes, pass certificates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from passgate.adapters.passcerts import write_dev_chain
from passgate.proto.passkit import make_dev_chain

PASSGATE = str(Path(sys.executable).parent / "passgate")
SECRET_KEY = "sk-" + "q" * 45
OPERATOR_KEY = "op-" + "w" * 45


def empty_pg_database(server_url: str, name: str) -> str:
    """A new database with no schema on the server of ``server_url``; returns its URL."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def pass_certificate_env(directory: Path) -> dict[str, str]:
    """A development chain on disk and the three settings that point at it."""
    chain = make_dev_chain(
        pass_type_identifier="pass.dev.passgate.door",
        team_identifier="PASSGATE00",
        now=datetime.now(UTC),
    )
    write_dev_chain(chain, directory)
    return {
        "PASSGATE_PASS_CERT_PATH": str(directory / "pass.pem"),
        "PASSGATE_PASS_KEY_PATH": str(directory / "pass.key"),
        "PASSGATE_PASS_WWDR_PATH": str(directory / "wwdr.pem"),
    }


def production_env(database_url: str, certs: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSGATE_")}
    return {
        **clean,
        "PASSGATE_DATABASE_URL": database_url,
        "PASSGATE_SECRET_KEY": SECRET_KEY,
        "PASSGATE_OPERATOR_KEY": OPERATOR_KEY,
        "PASSGATE_LOG_LEVEL": "warning",
        **pass_certificate_env(certs),
    }


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], limit_s: float = 90.0) -> None:
    """Poll /readyz until it answers 200 (the limit only bounds a hang)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{base_url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(base_url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise AssertionError(f"{base_url} never became ready")


@contextmanager
def processes(
    commands: list[list[str]], env: dict[str, str], log_dir: Path, cwd: Path | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start processes (argument lists); on exit SIGTERM them and check each stopped cleanly."""
    started: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for i, args in enumerate(commands):
            logs.append(log_dir / f"proc-{i}.log")
            with logs[-1].open("wb") as log:
                started.append(
                    subprocess.Popen(args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
                )
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in started]
    # uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean stop too.
    clean = (0, -signal.SIGTERM)
    assert all(code in clean for code in codes), [
        (code, path.read_text()[-2000:]) for code, path in zip(codes, logs, strict=True)
    ]


def serve_args(port: int) -> list[str]:
    return [PASSGATE, "serve", "--host", "127.0.0.1", "--port", str(port)]
