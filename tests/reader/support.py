"""Shared helpers: a live server on a loopback port, a world with an Apple Pass, agents."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.proto.aliro import DeviceApplet, crypto
from passgate.reader.agent import ReaderAgent
from passgate.reader.store import AgentStore
from passgate.reader.sync import SyncClient, pair
from passgate.services.credentials import aliro_groups
from passgate.web.app import create_app
from passgate.web.ws_server import PassgateWebSockets


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = 15.0) -> None:
    """Wait for a condition (not a timing assertion: the limit only bounds a hang)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        time.sleep(0.01)


@contextmanager
def live_server(container: Container) -> Iterator[str]:
    config = uvicorn.Config(
        create_app(container), host="127.0.0.1", port=0, log_level="warning", ws=PassgateWebSockets
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "server start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class Device:
    """An emulated iPhone's credential: its applet and key id.

    The applet trusts the organization's Aliro reader groups as the server hands them to
    devices (``trust``, read when the applet is first used: after a reader was paired).
    """

    def __init__(self, trust: Callable[[], dict[bytes, bytes]]) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.public = crypto.public_bytes(self.key)
        self.key_id = hashlib.sha256(self.public).hexdigest()
        self.persistent: dict[bytes, bytes] = {}
        self._trust = trust
        self._applet: DeviceApplet | None = None

    @property
    def applet(self) -> DeviceApplet:
        if self._applet is None:
            self._applet = DeviceApplet(
                self.key, reader_groups=self._trust(), persistent_keys=self.persistent
            )
        return self._applet


class World:
    """An eligible organization, a Pro 2.1 reader on a door, a member with access and a pass."""

    def __init__(self, client: TestClient, container: Container, slug: str = "acme") -> None:
        self.org = Org(client, slug)
        self.container = container
        place = self.org.post("/places", {"name": "HQ", "timezone": "Europe/Berlin"})["id"]
        self.door = self.org.post("/doors", {"place_id": place, "name": "Front"})["id"]
        self.reader = self.add_reader("reader_pro_2_1", True)
        self.group = self.org.post("/groups", {"name": "Staff"})["id"]
        r = client.put(
            f"/api/v1/groups/{self.group}/doors",
            json={"door_ids": [self.door]},
            headers=self.org.headers,
        )
        assert r.status_code == 200, r.text
        self.member = self.org.post("/members", {"email": "m@example.com", "display_name": "M"})[
            "id"
        ]
        self.right = self.org.post(
            "/access_rights", {"member_id": self.member, "group_id": self.group}
        )["id"]
        self.client = client
        self.make_eligible()
        self.device = Device(self.trusted_groups)
        self.pass_id = m.new_id("pass")
        now = container.clock.now()
        with container.uow_factory(self.org.id) as uow:
            uow.repo(m.ApplePass).add(
                m.ApplePass(
                    id=self.pass_id,
                    org_id=self.org.id,
                    member_id=self.member,
                    serial_number=m.new_id("ser"),
                    status=m.PassStatus.ACTIVE,
                    created_at=now,
                    updated_at=now,
                )
            )
        self.device_row = self.add_device(self.device)

    def trusted_groups(self) -> dict[bytes, bytes]:
        """The Aliro reader groups a device provisioned now would trust."""
        with self.container.uow_factory(self.org.id, write=False) as uow:
            return {
                bytes.fromhex(group): bytes.fromhex(key)
                for group, key in aliro_groups.trusted_groups(uow)
            }

    def add_reader(self, model: str, tamper_protection: bool) -> str:
        return str(
            self.org.post(
                "/readers",
                {
                    "door_id": self.door,
                    "name": f"R-{model}-{tamper_protection}",
                    "model": model,
                    "firmware": "2.1.0",
                    "tamper_protection": tamper_protection,
                },
            )["id"]
        )

    def add_device(self, device: Device) -> str:
        now = self.container.clock.now()
        row = m.PassDevice(
            id=m.new_id("pdev"),
            org_id=self.org.id,
            pass_id=self.pass_id,
            kind=m.DeviceKind.IPHONE,
            device_id=m.new_id("dev"),
            model="iPhone16,1",
            os_version="18.0",
            app_version="46.0",
            public_key=device.public.hex(),
            key_id=device.key_id,
            status=m.DeviceStatus.ACTIVE,
            added_at=now,
        )
        with self.container.uow_factory(self.org.id) as uow:
            uow.repo(m.PassDevice).add(row)
        return row.id

    def make_eligible(self) -> None:
        c = self.container
        now = c.clock.now()
        with c.uow_factory(self.org.id) as uow:
            org = uow.organizations.get(self.org.id)
            org.sso_enforced = org.mfa_required = True
            uow.organizations.update(org)
            uow.repo(m.SsoConnection).add(
                m.SsoConnection(
                    id=m.new_id("sso"),
                    org_id=self.org.id,
                    protocol="oidc",
                    enabled=True,
                    settings={},
                    secret_sealed=None,
                    accepted_mfa=["otp"],
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.repo(m.Subscription).add(
                m.Subscription(
                    id=m.new_id("sub"),
                    org_id=self.org.id,
                    kind="apple_pass",
                    status="active",
                    valid_from=now - timedelta(days=1),
                    valid_until=None,
                    created_at=now,
                )
            )

    def update(self, entity_type: type[Any], entity_id: str, **changes: Any) -> None:
        with self.container.uow_factory(self.org.id) as uow:
            repo = uow.repo(entity_type)
            row = repo.get(entity_id)
            for k, v in changes.items():
                setattr(row, k, v)
            repo.update(row)

    def pairing_code(self, reader_id: str) -> str:
        r = self.client.post(f"/api/v1/readers/{reader_id}/pairing_code", headers=self.org.headers)
        assert r.status_code == 201, r.text
        return str(r.json()["code"])

    def stored_events(self, reader_id: str) -> list[m.Event]:
        from passgate.services.events import EventFilter

        with self.container.uow_factory(self.org.id, write=False) as uow:
            events, _ = uow.events.list(EventFilter(reader_id=reader_id), limit=10_000, offset=0)
        return events


class AgentClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class RunningAgent:
    """An agent with its server link running in a background asyncio loop."""

    def __init__(self, path: str, clock: AgentClock | None = None) -> None:
        self.clock = clock or AgentClock()
        self.agent = ReaderAgent(AgentStore(path), clock=self.clock)
        self.client = SyncClient(self.agent)
        self.agent.on_event = self.client.notify_event
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def pair(self, server: str, code: str) -> None:
        pair(self.agent, server, code)

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self._stop = asyncio.Event()
            ready.set()
            self._loop.run_until_complete(self.client.run(self._stop))

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        if self._thread is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None
        self._loop.close()
        self.agent.store.close()
