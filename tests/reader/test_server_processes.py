"""Several server processes on one database: a change anywhere reaches every reader.

Two real ``passgate serve`` processes share the test's database. A reader agent is
connected to one of them; a change made through the other one's API must reach it, and
so must a remote unlock requested through the other one (both travel through the reader
change log).
When the process holding the reader's connection is killed (SIGKILL: no goodbye), the
agent moves to the other URL it was given and a revocation made meanwhile denies.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.conftest import OPERATOR_KEY, SECRET_KEY
from tests.livesrv import free_port
from tests.ops.support import PASSGATE, serve_args, wait_ready
from tests.reader.support import RunningAgent, World, wait_until

from passgate.adapters.db.change_feed import LISTENER_NAME
from passgate.bootstrap import Container
from passgate.domain.access import Reason, UnlockMethod
from passgate.domain.reader_cache import decide_tap
from passgate.reader.relay import SimulatedRelay

Server = tuple[str, "subprocess.Popen[bytes]"]


class RealClock:
    """The server processes run on the wall clock: so must the rows this test writes."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
def clock() -> RealClock:
    return RealClock()


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    with _servers(database_url, tmp_path) as started:
        yield started


@pytest.fixture
def unpolled_servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """PostgreSQL servers whose heads poll (SQLite's) would come only once an hour."""
    if not database_url.startswith("postgresql"):
        pytest.skip("NOTIFY/LISTEN is PostgreSQL's; SQLite servers poll the log heads")
    with _servers(database_url, tmp_path, {"PASSGATE_READER_POLL_INTERVAL_S": "3600"}) as s:
        yield s


@contextmanager
def _servers(
    database_url: str, tmp_path: Path, extra: dict[str, str] | None = None
) -> Iterator[list[Server]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSGATE_")}
    env |= {
        "PASSGATE_DATABASE_URL": database_url,
        "PASSGATE_SECRET_KEY": SECRET_KEY,
        "PASSGATE_OPERATOR_KEY": OPERATOR_KEY,
        "PASSGATE_DEV_MODE": "true",
        "PASSGATE_LOG_LEVEL": "warning",
        "PASSGATE_IN_PROCESS_WORKER": "false",
        **(extra or {}),
    }
    started: list[Server] = []
    try:
        for i in range(2):
            port = free_port()
            with (tmp_path / f"serve-{i}.log").open("wb") as log:
                proc = subprocess.Popen(
                    [*serve_args(port), "--no-migrate"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            started.append((f"http://127.0.0.1:{port}", proc))
        for url, proc in started:
            wait_ready(url, proc)
        yield started
    finally:
        for _, proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _reason(ra: RunningAgent, key_id: str) -> str | None:
    view = ra.agent.view
    if view is None:
        return None
    now = datetime.now(UTC)
    verdict = decide_tap(
        view, key_id=key_id, method=UnlockMethod.NFC, now=now, synced_at=now, halted=False
    )
    return verdict.decision.reason.value


def _pairing_code(base: str, world: World) -> str:
    r = httpx.post(
        f"{base}/api/v1/readers/{world.reader}/pairing_code", headers=world.org.headers, timeout=10
    )
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _suspend(base: str, world: World) -> None:
    r = httpx.post(
        f"{base}/api/v1/apple_passes/{world.pass_id}/suspend", headers=world.org.headers, timeout=10
    )
    assert r.status_code == 200, r.text


def test_a_change_through_one_server_reaches_a_reader_of_another(
    client: TestClient,
    container: Container,
    servers: list[Server],
    tmp_path: Path,
) -> None:
    (a, _), (b, _) = servers
    world = World(client, container)
    key = world.device.key_id
    ra = RunningAgent(str(tmp_path / "agent.db"))
    ra.pair(b, _pairing_code(a, world))  # the code made through A is good on B
    ra.start()
    try:
        wait_until(lambda: _reason(ra, key) == Reason.GRANTED.value, "first snapshot from B")
        _suspend(a, world)
        wait_until(
            lambda: _reason(ra, key) == Reason.PASS_SUSPENDED.value, "A's suspension on B's reader"
        )
        assert ra.client.url == b  # it never left B: the change crossed processes
    finally:
        ra.stop()


def _command(base: str, world: World, command_id: str) -> dict[str, object]:
    url = f"{base}/api/v1/door_commands/{command_id}"
    r = httpx.get(url, headers=world.org.headers, timeout=10)
    assert r.status_code == 200, r.text
    found: dict[str, object] = r.json()
    return found


def test_an_unlock_requested_through_one_server_opens_the_door_of_a_reader_of_another(
    client: TestClient,
    container: Container,
    servers: list[Server],
    tmp_path: Path,
) -> None:
    (a, _), (b, _) = servers
    world = World(client, container)
    ra = RunningAgent(str(tmp_path / "agent.db"))
    ra.pair(b, _pairing_code(a, world))
    ra.start()
    try:
        # Synced means connected: B recorded the reader online before it synced it.
        wait_until(lambda: ra.agent.view is not None, "first snapshot from B")
        r = httpx.post(f"{a}/api/v1/doors/{world.door}/unlock", headers=world.org.headers)
        assert r.status_code == 202, r.text
        command_id = str(r.json()["id"])
        wait_until(lambda: _command(a, world, command_id)["state"] == "done", "done through A")
        assert _command(a, world, command_id)["reason"] == "granted"
        relay = ra.agent.relay
        assert isinstance(relay, SimulatedRelay) and len(relay.pulses) == 1
        assert ra.client.url == b  # the command crossed processes to the reader's link

        def stored() -> list[str]:
            return [
                e.type
                for e in world.stored_events(world.reader)
                if e.data.get("command_id") == command_id
            ]

        wait_until(lambda: stored() == ["door.unlocked_remotely"], "the event stored")
        r = httpx.get(
            f"{a}/api/v1/events",
            params={"reader_id": world.reader},
            headers=world.org.headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        seen = [e for e in r.json() if e["type"] == "door.unlocked_remotely"]
        assert [e["door_id"] for e in seen] == [world.door]
        assert len(relay.pulses) == 1  # sent once, by the process holding the link
    finally:
        ra.stop()


def test_a_reader_whose_server_is_killed_moves_to_another_and_misses_no_revocation(
    client: TestClient,
    container: Container,
    servers: list[Server],
    tmp_path: Path,
) -> None:
    (a, _), (b, b_proc) = servers
    world = World(client, container)
    key = world.device.key_id
    ra = RunningAgent(str(tmp_path / "agent.db"))
    ra.client.fallback_urls = [a]
    ra.pair(b, _pairing_code(b, world))
    ra.start()
    try:
        wait_until(lambda: _reason(ra, key) == Reason.GRANTED.value, "first snapshot from B")
        assert ra.client.url == b
        b_proc.send_signal(signal.SIGKILL)
        b_proc.wait(10)
        _suspend(a, world)  # while the reader has no connection
        wait_until(
            lambda: _reason(ra, key) == Reason.PASS_SUSPENDED.value,
            "the suspension, after moving to A",
            limit_s=30,
        )
        assert ra.client.url == a
    finally:
        ra.stop()


def _resume(base: str, world: World) -> None:
    r = httpx.post(
        f"{base}/api/v1/apple_passes/{world.pass_id}/resume", headers=world.org.headers, timeout=10
    )
    assert r.status_code == 200, r.text


def _listeners(container: Container) -> set[int]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": LISTENER_NAME},
        )
        return {int(r.pid) for r in rows}


def test_on_postgresql_a_notification_not_a_poll_carries_the_change_across_processes(
    client: TestClient,
    container: Container,
    unpolled_servers: list[Server],
    tmp_path: Path,
) -> None:
    (a, _), (b, _) = unpolled_servers
    world = World(client, container)
    key = world.device.key_id
    ra = RunningAgent(str(tmp_path / "agent.db"))
    ra.pair(b, _pairing_code(a, world))
    ra.start()
    try:
        wait_until(lambda: _reason(ra, key) == Reason.GRANTED.value, "first snapshot from B")
        _suspend(a, world)
        wait_until(lambda: _reason(ra, key) == Reason.PASS_SUSPENDED.value, "A's suspension on B")

        # The listening connections die (as in a database failover). A change made
        # while they reconnect is not lost: after LISTEN again, each process re-reads the
        # heads it serves once.
        # B listens (it holds a reader); A, with none, has no hub running.
        wait_until(lambda: len(_listeners(container)) == 1, "B listening")
        before = _listeners(container)
        with container.engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM"
                    " pg_stat_activity WHERE application_name = :name"
                    " AND datname = current_database()) AS t"
                ),
                {"name": LISTENER_NAME},
            ).scalar_one()
        assert killed == 1
        _resume(a, world)
        wait_until(lambda: _reason(ra, key) == Reason.GRANTED.value, "the resume, past the drop")
        # And once they listen again, notifications flow as before.
        wait_until(
            lambda: len(_listeners(container)) == 1 and not (_listeners(container) & before),
            "B listening again",
        )
        _suspend(a, world)
        wait_until(lambda: _reason(ra, key) == Reason.PASS_SUSPENDED.value, "a suspension after it")
        assert ra.client.url == b
    finally:
        ra.stop()


def test_the_agent_refuses_a_fallback_that_is_not_a_url(tmp_path: Path) -> None:
    done = subprocess.run(
        [PASSGATE, "reader", "run", "--cache", str(tmp_path / "r.db"), "--fallback-server", "x"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert b"--fallback-server" in done.stderr and b"Traceback" not in done.stderr
