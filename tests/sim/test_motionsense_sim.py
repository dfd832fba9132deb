"""The emulated app's MotionSense side: its own key, registration, Bluetooth, wave.

The server is faked here (httpx.MockTransport) so the app's requests can be checked;
the reader is a real agent behind the emulated socket transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.reader.test_motionsense import (
    GROUP_ID,
    GROUP_PUBLIC,
    app_credential,
    content,
    key_id,
    paired_agent,
)

from passgate.cli import main
from passgate.reader.agent import ReaderAgent
from passgate.reader.runtime import SocketTransport
from passgate.sim.devices import EmulatedDevice
from passgate.sim.emulator import BluetoothOff, Emulator
from passgate.sim.home import SimEnv, SimError, SimHome


class FakeServer:
    """The app-credential endpoints as the contract states them."""

    def __init__(self, *, register_status: int = 201) -> None:
        self.register_status = register_status
        self.requests: list[httpx.Request] = []
        self.n = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["Authorization"] == "Bearer tok"
        path = request.url.path
        if request.method == "POST" and path == "/api/v1/me/app_credentials":
            if self.register_status != 201:
                return httpx.Response(self.register_status, json={"error": {"code": "nope"}})
            body = json.loads(request.content)
            self.n += 1
            return httpx.Response(
                201,
                json={
                    "id": f"acr_{self.n}",
                    "key_id": key_id(bytes.fromhex(body["public_key"])),
                    "status": "active",
                    "reader_groups": [
                        {"group_identifier": GROUP_ID.hex(), "public_key": GROUP_PUBLIC.hex()}
                    ],
                },
            )
        if request.method == "DELETE" and path.startswith("/api/v1/me/app_credentials/"):
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[1], "status": "deleted"})
        if request.method == "POST" and path == "/api/v1/app/logout":
            return httpx.Response(204)
        return httpx.Response(404)


def _world(tmp_path: Path, server: FakeServer, readers: dict[str, str] | None = None) -> Emulator:
    home = SimHome(tmp_path / "sim")
    home.save_env(SimEnv(server="http://passgate.test", org="acme", readers=readers or {}))
    emu = Emulator(home, http=httpx.Client(transport=httpx.MockTransport(server)))
    phone = emu.new_iphone("phone")
    phone.state.app_token = "tok"
    phone.save()
    return emu


def test_registration_sends_the_app_key_and_keeps_the_trust_anchors(tmp_path: Path) -> None:
    server = FakeServer()
    emu = _world(tmp_path, server)
    emu.register_app_credential(emu.home.device("phone"))
    phone = emu.home.device("phone")
    (request,) = server.requests
    body = json.loads(request.content)
    assert body == {"public_key": body["public_key"], "device_id": phone.state.device_id}
    assert bytes.fromhex(body["public_key"]) == phone.app_public_key
    assert phone.app_public_key != phone.public_key  # not the Apple Pass key
    assert phone.state.app_credential_id == "acr_1" and phone.state.bluetooth
    assert phone.state.app_reader_groups == {GROUP_ID.hex(): GROUP_PUBLIC.hex()}
    state_file = emu.home.device_path("phone")
    assert state_file.stat().st_mode & 0o777 == 0o600
    assert EmulatedDevice.load(state_file).app_public_key == phone.app_public_key

    # Signing in again makes a new key (the server ends the old one, same device id).
    first_key = phone.app_public_key
    emu.register_app_credential(phone)
    again = emu.home.device("phone")
    assert again.state.app_credential_id == "acr_2"
    assert again.app_public_key not in (None, first_key)
    assert json.loads(server.requests[1].content)["device_id"] == phone.state.device_id


def test_a_refused_registration_is_an_error(tmp_path: Path) -> None:
    emu = _world(tmp_path, FakeServer(register_status=404))
    with pytest.raises(SimError, match="HTTP 404"):
        emu.register_app_credential(emu.home.device("phone"))
    assert emu.home.device("phone").state.app_credential_id is None


def test_sign_out_deletes_the_app_credential(tmp_path: Path) -> None:
    server = FakeServer()
    emu = _world(tmp_path, server)
    emu.register_app_credential(emu.home.device("phone"))
    emu.sign_out("phone")
    assert [(r.method, r.url.path) for r in server.requests[1:]] == [
        ("DELETE", "/api/v1/me/app_credentials/acr_1"),
        ("POST", "/api/v1/app/logout"),
    ]
    phone = emu.home.device("phone")
    assert phone.app_public_key is None and phone.state.app_token is None


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[tuple[ReaderAgent, str]]:
    agent, _ = paired_agent(tmp_path, content({}))
    transport = SocketTransport(agent)
    transport.start()
    try:
        yield agent, f"{transport.address[0]}:{transport.address[1]}"
    finally:
        transport.close()
        agent.store.close()


def _allow(agent: ReaderAgent, phone: EmulatedDevice, status: str = "active") -> None:
    public = phone.app_public_key
    assert public is not None
    agent.apply(2, content({key_id(public): app_credential(public, status)}))


def test_wave_runs_the_exchange_and_bluetooth_off_does_nothing(
    tmp_path: Path, reader: tuple[ReaderAgent, str]
) -> None:
    agent, address = reader
    emu = _world(tmp_path, FakeServer(), {"Front": address})
    emu.register_app_credential(emu.home.device("phone"))
    _allow(agent, emu.home.device("phone"))
    first = emu.wave("phone", "Front")
    assert first == {"granted": True, "reason": "granted", "flow": "standard", "confirmed": True}
    assert emu.wave("phone", "Front")["flow"] == "fast"  # the app kept its persistent key
    assert agent.store.event_count() == 2

    emu.set_bluetooth("phone", False)
    with pytest.raises(BluetoothOff, match="Bluetooth is off"):
        emu.wave("phone", "Front")
    assert agent.store.event_count() == 2  # nothing reached the reader

    emu.set_bluetooth("phone", True)
    _allow(agent, emu.home.device("phone"), "suspended")
    denied = emu.wave("phone", "Front")
    assert denied["granted"] is False and denied["reason"] == "credential_suspended"
    assert denied["confirmed"] is False
    assert agent.store.event_count() == 3

    emu.sign_out("phone")
    with pytest.raises(BluetoothOff, match="signed out"):
        emu.wave("phone", "Front")
    assert agent.store.event_count() == 3


def test_wave_cli_exit_status(tmp_path: Path, reader: tuple[ReaderAgent, str]) -> None:
    agent, address = reader
    emu = _world(tmp_path, FakeServer(), {"Front": address})
    emu.register_app_credential(emu.home.device("phone"))
    _allow(agent, emu.home.device("phone"))
    emu.close()
    home = str(tmp_path / "sim")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["sim", "--home", home, *args])

    granted = run("wave", "phone", "Front")
    assert granted.exit_code == 0 and "GRANTED: granted (standard)" in granted.output
    assert run("ble-off", "phone").exit_code == 0
    off = run("wave", "phone", "Front")
    assert off.exit_code != 0 and "Bluetooth is off, nothing happened" in off.output
    assert "Bluetooth off" in run("show", "phone").output
    assert run("ble-on", "phone").exit_code == 0
    _allow(agent, emu.home.device("phone"), "suspended")
    denied = run("wave", "phone", "Front")
    assert denied.exit_code == 1 and "DENIED: credential_suspended" in denied.output
    assert agent.store.event_count() == 2
