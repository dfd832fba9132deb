"""The signed .pkpass is stored with its pass version: signed once per change, served as is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from fastapi.testclient import TestClient
from tests.passes.conftest import PASS_TYPE
from tests.passes.helpers import MemberApp, iphone, watch

from passgate.proto.passkit import DevChain, verify_pkpass
from passgate.services.credentials import pass_files
from passgate.services.credentials.wallet import authentication_token, render_pkpass


class Signs:
    """Counts the .pkpass signatures made; ``fail`` makes the next ones raise."""

    def __init__(self) -> None:
        self.count = 0
        self.fail = False


@pytest.fixture
def signs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Signs]:
    counter = Signs()
    real = render_pkpass

    def counting(*args: Any, **kwargs: Any) -> bytes:
        if counter.fail:
            raise RuntimeError("the signer died")
        counter.count += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pass_files, "render_pkpass", counting)
    yield counter


def _get(client: TestClient, serial: str, **headers: str) -> Any:
    cfg = client.app.state.container.wallet_config  # type: ignore[attr-defined]
    auth = {"Authorization": f"ApplePass {authentication_token(cfg, serial)}"}
    return client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers={**auth, **headers})


def _rows(client: TestClient, sql: str, **params: Any) -> list[Any]:
    c = client.app.state.container  # type: ignore[attr-defined]
    with c.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def _status_shown(data: bytes, chain: DevChain) -> str:
    root = x509.load_pem_x509_certificate(chain.root_pem)
    pj = verify_pkpass(data, trusted_roots=[root]).pass_json
    return str(pj["generic"]["auxiliaryFields"][0]["value"])


def test_a_change_signs_each_copy_once_and_get_serves_the_stored_bytes(
    member: MemberApp, signs: Signs, dev_chain: tuple[DevChain, Path]
) -> None:
    client = member.client
    body = member.add({"iphone": iphone(), "watch": watch()}).json()
    assert signs.count == 2  # one per Wallet copy, returned to the app and stored
    serial = body["serials"]["iphone"]
    first = _get(client, serial)
    assert first.status_code == 200
    assert _get(client, serial).content == first.content
    assert signs.count == 2  # GETs sign nothing
    not_modified = _get(client, serial, **{"If-Modified-Since": first.headers["last-modified"]})
    assert not_modified.status_code == 304 and signs.count == 2

    r = client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    assert r.status_code == 200, r.text
    assert signs.count == 4  # the new version of both copies, signed in the suspension
    after = _get(client, serial, **{"If-Modified-Since": first.headers["last-modified"]})
    assert after.status_code == 200
    assert after.headers["last-modified"] != first.headers["last-modified"]
    assert _status_shown(after.content, dev_chain[0]) == "Suspended"
    assert _get(client, serial).content == after.content
    assert signs.count == 4
    stored = _rows(client, "SELECT version FROM wallet_pass_files WHERE id = :s", s=serial)
    current = _rows(client, "SELECT updated_at FROM wallet_serials WHERE id = :s", s=serial)
    assert stored == current  # the file row carries the version it was signed for


def test_a_signer_crash_during_a_change_leaves_nothing_half_written(
    member: MemberApp, signs: Signs, dev_chain: tuple[DevChain, Path]
) -> None:
    client = member.client
    body = member.add({"iphone": iphone()}).json()
    serial = body["serials"]["iphone"]
    before = _get(client, serial)
    tables = ("wallet_serials", "wallet_pass_files", "apple_passes", "outbox", "events")
    snapshot = {t: sorted(map(repr, _rows(client, f"SELECT * FROM {t}"))) for t in tables}

    signs.fail = True
    r = client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    assert r.status_code == 500
    signs.fail = False
    # The suspension, its version, its pushes and its audit event rolled back together.
    assert {t: sorted(map(repr, _rows(client, f"SELECT * FROM {t}"))) for t in tables} == snapshot
    again = _get(client, serial)
    assert again.content == before.content
    assert again.headers["last-modified"] == before.headers["last-modified"]

    r = client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    assert r.status_code == 200, r.text
    assert _status_shown(_get(client, serial).content, dev_chain[0]) == "Suspended"


def test_a_missing_or_foreign_file_is_signed_on_get_and_stored(
    member: MemberApp, signs: Signs
) -> None:
    client = member.client
    serial = member.add({"iphone": iphone()}).json()["serials"]["iphone"]
    c = client.app.state.container  # type: ignore[attr-defined]
    served = _get(client, serial).content
    assert signs.count == 1
    # As after the upgrade that added stored files: no row yet.
    with c.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM wallet_pass_files")
    assert _get(client, serial).content == served  # same version, same signing time
    assert signs.count == 2
    assert _get(client, serial).content == served and signs.count == 2  # stored again
    # Signed with another setup (a renewed certificate): signed again, not served.
    with c.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE wallet_pass_files SET signed_with = 'an-older-setup'")
    assert _get(client, serial).status_code == 200 and signs.count == 3
    # A sealed file moved onto another version does not open: signed again.
    with c.engine.begin() as conn:
        conn.execute(sa.text("UPDATE wallet_pass_files SET sealed = :b"), {"b": b"\x00\x11"})
    assert _get(client, serial).content == served and signs.count == 4


def test_stored_files_do_not_show_the_token(member: MemberApp) -> None:
    client = member.client
    serial = member.add({"iphone": iphone()}).json()["serials"]["iphone"]
    cfg = client.app.state.container.wallet_config  # type: ignore[attr-defined]
    token = authentication_token(cfg, serial).encode()
    rows = _rows(client, "SELECT sealed FROM wallet_pass_files WHERE id = :s", s=serial)
    assert len(rows) == 1
    sealed = bytes(rows[0][0])
    assert token not in sealed and b"pass.json" not in sealed
