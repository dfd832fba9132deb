"""Safe start-up on PostgreSQL: concurrent migrations, readiness through an outage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.livesrv import free_port
from tests.ops.support import (
    empty_pg_database,
    pass_certificate_env,
    processes,
    production_env,
    serve_args,
    wait_ready,
)
from tests.pgserver import PostgresServer, _bin

from passgate.adapters.db import migrate
from passgate.bootstrap import build_container
from passgate.config import Settings
from passgate.web.app import create_app

pytestmark = pytest.mark.postgres


def test_three_servers_started_together_on_an_empty_database_all_come_up(
    postgres: str, tmp_path: Path
) -> None:
    url = empty_pg_database(postgres, "passgate_three_at_once")
    env = production_env(url, tmp_path)
    ports = [free_port() for _ in range(3)]
    with processes([serve_args(p) for p in ports], env, tmp_path) as procs:
        for port, proc in zip(ports, procs, strict=True):
            wait_ready(f"http://127.0.0.1:{port}", proc)
        # Each answers an authenticated API call on the one schema they share.
        for port in ports:
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/organizations",
                headers={"Authorization": f"Bearer {env['PASSGATE_OPERATOR_KEY']}"},
                timeout=10,
            )
            assert r.status_code == 200, r.text
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    engine.dispose()
    assert [v for (v,) in versions] == list(migrate.heads())


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, so it can be stopped without harming others."""
    try:
        _bin("initdb")
    except RuntimeError as exc:  # an external PASSGATE_TEST_POSTGRES_URL, no local binaries
        pytest.skip(f"cannot start a PostgreSQL of its own to stop and restart: {exc}")
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_readyz_fails_while_the_database_is_down_and_recovers(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    url = empty_pg_database(own_postgres.url(), "passgate_outage")
    settings = Settings(
        database_url=url,
        secret_key="sk-" + "r" * 40,
        **{  # type: ignore[arg-type]
            k.removeprefix("PASSGATE_").lower(): v
            for k, v in pass_certificate_env(tmp_path).items()
        },
    )
    container = build_container(settings)
    try:
        with TestClient(create_app(container)) as client:
            before = client.get("/readyz")
            assert before.status_code == 503
            assert before.json()["checks"]["schema"].startswith("at none, this version needs")
            migrate.upgrade(container.engine)
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": "ok", "schema": "ok", "pass_certificate": "ok"},
            }

            own_postgres.halt()
            down = client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"]["database"].startswith("unreachable: ")
            assert client.get("/healthz").status_code == 200  # alive, only not ready
            scrape = client.get("/metrics").text
            assert "passgate_database_up 0.0" in scrape

            own_postgres.resume()
            back = client.get("/readyz")
            assert back.status_code == 200, back.text
            assert "passgate_database_up 1.0" in client.get("/metrics").text
    finally:
        container.close()


def test_a_migration_waits_for_the_one_already_running(postgres: str) -> None:
    """Deterministic form of the race above: hold the lock as a migrating process would."""
    import threading

    url = empty_pg_database(postgres, "passgate_migration_lock")
    engine = build_container(Settings(database_url=url)).engine
    holder = sa.create_engine(url)
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(engine)
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)
        done.set()

    try:
        with holder.connect() as conn, conn.begin():
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": migrate.ADVISORY_LOCK_KEY}
            )
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            assert not done.wait(1.0), "the migration did not wait for the lock"
            assert not sa.inspect(holder).has_table("alembic_version")
        # Lock released with the holder's transaction: the waiting migration goes ahead.
        assert done.wait(60) and not failures, failures
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
        holder.dispose()
