"""The emulator's parts on their own: device keys, the push inbox, forms, NFC framing, CLI."""

from __future__ import annotations

import json
import socket
import struct
import threading
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner

from passgate.cli import main
from passgate.proto.aliro import (
    InMemory,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    run_transaction,
)
from passgate.sim import nfc
from passgate.sim.devices import DeviceError, EmulatedDevice
from passgate.sim.home import Account, SimError, SimHome
from passgate.sim.push import read_inbox
from passgate.sim.signin import _fill, _FormParser
from passgate.sim.wallet import Wallet, WalletError, pem_roots


def _phone(tmp_path: Path) -> EmulatedDevice:
    return EmulatedDevice.create(
        tmp_path / "d.json", name="p", kind="iphone", model="iPhone16,1", os_version="17.4"
    )


def test_device_key_and_learned_fast_keys_survive_a_reload(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    device = _phone(tmp_path)
    assert (tmp_path / "d.json").stat().st_mode & 0o777 == 0o600
    group_key = ec.generate_private_key(ec.SECP256R1())
    reader = ReaderIdentity.with_key(b"g" * 16, b"i" * 16, group_key)
    tx = ReaderTransaction(reader, lookup=KnownEndpoint, fast_candidates=list, prefer_fast=False)
    applet = device.applet({b"g" * 16: reader.group_public_key})
    assert run_transaction(tx, InMemory(applet)).authenticated
    again = EmulatedDevice.load(tmp_path / "d.json")
    assert again.public_key == device.public_key
    assert again.state.persistent_keys, "the STANDARD run's persistent key was not kept"
    old = again.key_id
    again.rotate_key()
    assert EmulatedDevice.load(tmp_path / "d.json").key_id != old
    assert EmulatedDevice.load(tmp_path / "d.json").state.persistent_keys == {}


def test_a_broken_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DeviceError):
        EmulatedDevice.load(tmp_path / "x.json")


def test_inbox_reads_whole_lines_after_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    path.write_text(json.dumps({"token": "AB" * 32, "topic": "t"}) + '\nnoise\n{"tok')
    pushes, offset = read_inbox(path, 0)
    assert [p.token for p in pushes] == ["ab" * 32]
    assert read_inbox(path, offset) == ([], offset)  # the half line waits


def test_forms_are_filled_like_a_person_would() -> None:
    page = (
        '<form method="post" action="otp"><input type="hidden" name="tx" value="T1">'
        '<input name="code"><button name="action" value="verify">V</button>'
        '<button name="action" value="skip">S</button></form>'
    )
    parser = _FormParser()
    parser.feed(page)
    form = parser.forms[0]
    assert _fill(form, "u", "pw", lambda: "123456") == {
        "tx": "T1",
        "code": "123456",
        "action": "verify",
    }
    assert _fill(form, "u", "pw", None)["action"] == "skip"
    parser = _FormParser()
    parser.feed('<form method=post><input name="login"><input name="password" type="password">')
    assert _fill(parser.forms[0], "ada", "pw", None) == {"login": "ada", "password": "pw"}


def test_wallet_refuses_a_pass_that_is_not_signed_by_its_root(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import httpx

    from passgate.proto.passkit import make_dev_chain

    chain = make_dev_chain(
        pass_type_identifier="pass.t.x", team_identifier="TEAMTEST01", now=datetime.now(UTC)
    )
    with httpx.Client() as http:
        wallet = Wallet(tmp_path / "w", pem_roots(chain.root_pem), client=http)
        with pytest.raises(WalletError):
            wallet.add(b"PK\x03\x04 not a pass")
        assert wallet.passes() == []
        assert len(wallet.push_token) == 64


def test_nfc_framing_against_a_reader_socket() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def reader() -> None:
        conn, _ = server.accept()
        with conn:
            assert conn.recv(3) == b"\x00\x01N"
            conn.sendall(struct.pack(">H", 2) + b"\x00\xa4")
            length = struct.unpack(">H", conn.recv(2))[0]
            assert conn.recv(length) == b"\x90\x00"
            body = b"D" + json.dumps({"granted": True, "reason": "granted"}).encode()
            conn.sendall(struct.pack(">H", len(body)) + body)

    thread = threading.Thread(target=reader)
    thread.start()

    class Echo:
        def process(self, command: bytes) -> bytes:
            return b"\x90\x00"

    assert nfc.tap(("127.0.0.1", port), Echo())["reason"] == "granted"
    thread.join(5)
    server.close()
    with pytest.raises(nfc.NfcError):
        nfc.tap(("127.0.0.1", port), Echo(), timeout=1)
    with pytest.raises(nfc.NfcError):
        nfc.parse_address("nohost")


def test_sim_cli_keeps_devices_between_commands(tmp_path: Path) -> None:
    home = tmp_path / "sim"
    run = CliRunner().invoke
    assert run(main, ["sim", "--home", str(home), "iphone", "p1"]).exit_code == 0
    r = run(main, ["sim", "--home", str(home), "watch", "w1", "--iphone", "p1", "--locked"])
    assert r.exit_code == 0 and "locked" in r.output
    assert run(main, ["sim", "--home", str(home), "unlock", "w1"]).exit_code == 0
    r = run(main, ["sim", "--home", str(home), "show"])
    assert "p1: iphone" in r.output and "paired with p1, unlocked" in r.output
    r = run(main, ["sim", "--home", str(home), "iphone", "p1"])
    assert r.exit_code != 0 and "exists already" in r.output
    r = run(main, ["sim", "--home", str(home), "lock", "p1"])
    assert r.exit_code != 0 and "only watches" in r.output
    r = run(main, ["sim", "--home", str(home), "add-pass", "p1"])
    assert r.exit_code != 0 and "sign in" in r.output
    secret = pyotp.random_base32()
    SimHome(home).save_account(Account("alice", "pw", secret))
    r = run(main, ["sim", "--home", str(home), "totp", "alice"])
    assert pyotp.TOTP(secret).verify(r.output.strip(), valid_window=1)
    with pytest.raises(SimError):
        SimHome(home).account("bob")
