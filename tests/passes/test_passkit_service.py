"""The PassKit web service contract (PROTOCOLS.md section 3) and the signed .pkpass files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from tests.passes.conftest import PASS_TYPE
from tests.passes.helpers import MemberApp, iphone, watch

from passgate.proto.passkit import DevChain, PkpassError, verify_pkpass
from passgate.services.credentials.wallet import authentication_token

PUSH = "ab" * 32
# The test clock's day (the dev chain is made for it, not for the machine's clock).
AT = int(datetime(2026, 11, 27, 9, 0, tzinfo=UTC).timestamp())


def _pkpass(body: dict[str, Any], kind: str = "iphone") -> bytes:
    return base64.b64decode(body["pkpass_base64"][kind])


def _token(client: TestClient, serial: str) -> dict[str, str]:
    cfg = client.app.state.container.wallet_config  # type: ignore[attr-defined]
    return {"Authorization": f"ApplePass {authentication_token(cfg, serial)}"}


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _openssl_verify(data: bytes, root: Path, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    files = _files(data)
    (tmp / "manifest.json").write_bytes(files["manifest.json"])
    (tmp / "signature").write_bytes(files["signature"])
    return subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp / "signature"), "-content", str(tmp / "manifest.json"),
            "-CAfile", str(root), "-purpose", "any", "-attime", str(AT), "-out", "/dev/null",
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip


def test_generated_passes_verify_with_openssl_and_verify_pkpass(
    member: MemberApp, dev_chain: tuple[DevChain, Path], tmp_path: Path
) -> None:
    chain, out = dev_chain
    body = member.add({"iphone": iphone(), "watch": watch()}).json()
    root = x509.load_pem_x509_certificate(chain.root_pem)
    for kind in ("iphone", "watch"):
        data = _pkpass(body, kind)
        result = _openssl_verify(data, out / "root.pem", tmp_path)
        assert result.returncode == 0, result.stderr
        verified = verify_pkpass(data, trusted_roots=[root], pass_type_identifier=PASS_TYPE)
        pj = verified.pass_json
        assert pj["serialNumber"] == body["serials"][kind]
        assert pj["webServiceURL"] == "https://passgate.example.com/passkit"
        assert pj["sharingProhibited"] is True and pj["voided"] is False
        assert pj["generic"]["primaryFields"][0]["value"] == "Ann Example"
        assert pj["organizationName"] == "Acme"
        # The token is derived, never stored: it is the serial's HMAC, 64 hex characters.
        assert len(pj["authenticationToken"]) == 64


def test_one_changed_byte_in_any_file_is_rejected(
    member: MemberApp, dev_chain: tuple[DevChain, Path], tmp_path: Path
) -> None:
    chain, out = dev_chain
    data = _pkpass(member.add({"iphone": iphone()}).json())
    root = x509.load_pem_x509_certificate(chain.root_pem)
    files = _files(data)
    for name in files:
        changed = dict(files)
        blob = bytearray(changed[name])
        blob[len(blob) // 2] ^= 0x01
        changed[name] = bytes(blob)
        buf = BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n, content in changed.items():
                z.writestr(n, content)
        with pytest.raises(PkpassError):
            verify_pkpass(buf.getvalue(), trusted_roots=[root])
        if name in ("manifest.json", "signature"):
            assert _openssl_verify(buf.getvalue(), out / "root.pem", tmp_path).returncode != 0


def test_registration_status_codes_and_token_binding(member: MemberApp) -> None:
    client = member.client
    body = member.add({"iphone": iphone(), "watch": watch()}).json()
    a, b = body["serials"]["iphone"], body["serials"]["watch"]
    url = f"/passkit/v1/devices/dev1/registrations/{PASS_TYPE}"
    assert (
        client.post(f"{url}/{a}", json={"pushToken": PUSH}, headers=_token(client, a)).status_code
        == 201
    )
    assert (
        client.post(
            f"{url}/{a}", json={"pushToken": "cd" * 32}, headers=_token(client, a)
        ).status_code
        == 200
    )
    # Serial A's token never works for serial B: register, fetch, unregister.
    assert (
        client.post(f"{url}/{b}", json={"pushToken": PUSH}, headers=_token(client, a)).status_code
        == 401
    )
    assert (
        client.get(f"/passkit/v1/passes/{PASS_TYPE}/{b}", headers=_token(client, a)).status_code
        == 401
    )
    assert client.delete(f"{url}/{a}", headers=_token(client, b)).status_code == 401
    assert client.post(f"{url}/{a}", json={"pushToken": PUSH}).status_code == 401
    bad = {"Authorization": "ApplePass " + "0" * 64}
    assert client.post(f"{url}/{a}", json={"pushToken": PUSH}, headers=bad).status_code == 401
    # Garbage gets a 4xx.
    for payload in ({"pushToken": 5}, {"pushToken": "zz"}, [1], {}):
        r = client.post(f"{url}/{a}", json=payload, headers=_token(client, a))
        assert r.status_code == 400, payload
    r = client.post(f"{url}/{a}", content=b"{nope", headers=_token(client, a))
    assert r.status_code == 400
    other = f"/passkit/v1/devices/dev1/registrations/pass.other.type/{a}"
    assert (
        client.post(other, json={"pushToken": PUSH}, headers=_token(client, a)).status_code == 404
    )
    assert client.delete(f"{url}/{a}", headers=_token(client, a)).status_code == 200


def test_serials_updated_since_tag(member: MemberApp) -> None:
    client = member.client
    body = member.add({"iphone": iphone()}).json()
    serial = body["serials"]["iphone"]
    url = f"/passkit/v1/devices/dev1/registrations/{PASS_TYPE}"
    assert client.get(url).status_code == 204  # no registrations yet
    client.post(f"{url}/{serial}", json={"pushToken": PUSH}, headers=_token(client, serial))
    r = client.get(url)
    assert r.status_code == 200
    assert r.json()["serialNumbers"] == [serial]
    tag = r.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert client.get(url, params={"passesUpdatedSince": tag}).status_code == 204
    client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    r = client.get(url, params={"passesUpdatedSince": tag})
    assert r.status_code == 200 and r.json()["serialNumbers"] == [serial]
    assert int(r.json()["lastUpdated"]) > int(tag)
    assert client.get(url, params={"passesUpdatedSince": "garbage"}).status_code == 400
    assert client.get(f"/passkit/v1/devices/dev2/registrations/{PASS_TYPE}").status_code == 204


def test_latest_pass_last_modified_304_head_and_marked_states(
    member: MemberApp, dev_chain: tuple[DevChain, Path]
) -> None:
    client = member.client
    root = x509.load_pem_x509_certificate(dev_chain[0].root_pem)
    body = member.add({"iphone": iphone("old"), "watch": watch()}).json()
    serial = body["serials"]["iphone"]
    url = f"/passkit/v1/passes/{PASS_TYPE}/{serial}"
    r = client.get(url, headers=_token(client, serial))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.apple.pkpass"
    modified = r.headers["last-modified"]
    assert r.content == _pkpass(body)  # one version, the same signed bytes
    assert (
        client.get(
            url, headers={**_token(client, serial), "If-Modified-Since": modified}
        ).status_code
        == 304
    )
    head = client.head(url, headers=_token(client, serial))
    assert head.status_code == 200 and head.content == b""
    assert client.get(url).status_code == 401
    garbage = {**_token(client, serial), "If-Modified-Since": "yesterday-ish"}
    assert client.get(url, headers=garbage).status_code == 200
    # Suspended: still served, marked; then a new iPhone makes the old copy void.
    client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    r = client.get(url, headers={**_token(client, serial), "If-Modified-Since": modified})
    assert r.status_code == 200
    pj = verify_pkpass(r.content, trusted_roots=[root]).pass_json
    assert pj["voided"] is False
    assert pj["generic"]["auxiliaryFields"][0]["value"] == "Suspended"
    client.post(f"/api/v1/apple_passes/{body['pass_id']}/resume", headers=member.org.headers)
    member.add({"iphone": iphone("new")})
    for kind in ("iphone", "watch"):
        s = body["serials"][kind]
        r = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{s}", headers=_token(client, s))
        assert verify_pkpass(r.content, trusted_roots=[root]).pass_json["voided"] is True
    assert (
        client.get(
            f"/passkit/v1/passes/{PASS_TYPE}/no-such", headers=_token(client, "no-such")
        ).status_code
        == 401
    )
    assert (
        client.get(
            f"/passkit/v1/passes/{PASS_TYPE}/bad%20serial", headers=_token(client, "x")
        ).status_code
        == 404
    )


def test_log_lines_are_kept_and_shown_to_admins(member: MemberApp) -> None:
    client = member.client
    body = member.add({"iphone": iphone()}).json()
    serial = body["serials"]["iphone"]
    lines = [f"Web service error for {PASS_TYPE} ({serial}): 500", "unrelated line"]
    assert client.post("/passkit/v1/log", json={"logs": lines}).status_code == 200
    assert client.post("/passkit/v1/log", json={"logs": "x"}).status_code == 400
    assert client.post("/passkit/v1/log", content=b"\xff").status_code == 400
    detail = client.get(f"/api/v1/apple_passes/{body['pass_id']}", headers=member.org.headers)
    assert [x["message"] for x in detail.json()["logs"]] == [lines[0]]


def test_token_is_the_hmac_of_the_serial_and_never_stored(member: MemberApp) -> None:
    client = member.client
    serial = member.add({"iphone": iphone()}).json()["serials"]["iphone"]
    cfg = client.app.state.container.wallet_config  # type: ignore[attr-defined]
    expected = hmac.new(cfg.auth_key, b"passkit-token:" + serial.encode(), hashlib.sha256)
    assert authentication_token(cfg, serial) == expected.hexdigest()
    c = client.app.state.container  # type: ignore[attr-defined]
    with c.engine.connect() as conn:
        tables = ("wallet_serials", "wallet_registrations", "apple_passes", "pass_devices")
        for table in (*tables, "wallet_pass_files"):  # stored files are sealed
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").fetchall()
            assert expected.hexdigest() not in repr(rows)
