"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from passgate.adapters.db import migrate
from passgate.adapters.db.engine import create_engine
from passgate.bootstrap import Container, build_container
from passgate.config import Settings
from passgate.web.app import create_app

OPERATOR_KEY = "op-" + "k" * 40
SECRET_KEY = "sk-" + "s" * 40
BACKENDS = ("sqlite", "postgresql")
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """URL of a PostgreSQL server (started for this session unless one is configured)."""
    configured = os.environ.get("PASSGATE_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(postgres: str) -> str:
    """A migrated database used as the template of every test database."""
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS passgate_template")
        conn.exec_driver_sql("CREATE DATABASE passgate_template")
    admin.dispose()
    url = postgres.rsplit("/", 1)[0] + "/passgate_template"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def fresh_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A new, migrated, empty database of ``backend``; returns its URL."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / f"test-{next(_counter)}.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    template_url: str = request.getfixturevalue("pg_template")
    name = f"passgate_t{os.getpid()}_{next(_counter)}"
    server_url = template_url.rsplit("/", 1)[0] + "/postgres"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE passgate_template")
    admin.dispose()
    return template_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    return fresh_database(request, backend, tmp_path)


class FixedClock:
    """A test clock that ticks 1 ms per reading, so creation order is observable."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=OPERATOR_KEY,
        secret_key=SECRET_KEY,
        webhook_retry_base_s=0.01,
    )


@pytest.fixture
def container(settings: Settings, clock: FixedClock) -> Iterator[Container]:
    c = build_container(settings, clock=clock)  # type: ignore[arg-type]
    yield c
    c.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as c:
        yield c


def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_KEY}"}


class Org:
    """An organization created through the API, with an admin key's headers."""

    def __init__(self, client: TestClient, slug: str) -> None:
        r = client.post(
            "/api/v1/organizations",
            json={"name": slug.title(), "slug": slug},
            headers=operator_headers(),
        )
        assert r.status_code == 201, r.text
        self.id: str = r.json()["id"]
        r = client.post(
            f"/api/v1/organizations/{self.id}/api_keys",
            json={"name": "admin"},
            headers=operator_headers(),
        )
        assert r.status_code == 201, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        self.client = client

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post(f"/api/v1{path}", json=body, headers=self.headers)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def world(self) -> dict[str, str]:
        """One object of every kind, wired together; returns their ids by kind."""
        ids: dict[str, str] = {}
        ids["schedule"] = self.post(
            "/schedules",
            {"name": "Office hours", "windows": [{"weekday": 0, "start": "08:00", "end": "18:00"}]},
        )["id"]
        ids["place"] = self.post("/places", {"name": "HQ", "timezone": "Europe/Berlin"})["id"]
        ids["door"] = self.post(
            "/doors", {"place_id": ids["place"], "name": "Front", "schedule_id": ids["schedule"]}
        )["id"]
        ids["reader"] = self.post(
            "/readers",
            {"door_id": ids["door"], "name": "R1", "model": "reader_pro_2_1", "firmware": "2.1.0"},
        )["id"]
        ids["group"] = self.post("/groups", {"name": "Staff"})["id"]
        r = self.client.put(
            f"/api/v1/groups/{ids['group']}/doors",
            json={"door_ids": [ids["door"]]},
            headers=self.headers,
        )
        assert r.status_code == 200, r.text
        ids["member"] = self.post("/members", {"email": "m@example.com", "display_name": "M"})["id"]
        ids["access_right"] = self.post(
            "/access_rights", {"member_id": ids["member"], "group_id": ids["group"]}
        )["id"]
        ids["webhook"] = self.post("/webhooks", {"url": "https://hooks.example.com/x"})["id"]
        ids["api_key"] = self.post("/api_keys", {"name": "second"})["id"]
        events = self.client.get("/api/v1/events", headers=self.headers).json()
        ids["event"] = events[0]["id"]
        ids["org"] = self.id
        return ids
