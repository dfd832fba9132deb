"""A member's rename or deactivation reaches their Wallet copies (push) and readers."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

from fastapi.testclient import TestClient
from tests.passes.conftest import PASS_TYPE
from tests.passes.helpers import MemberApp, iphone, reader_log_head, reader_log_since

from passgate.bootstrap import Container
from passgate.services.credentials.wallet import authentication_token

PUSH = "ab" * 32


def _outbox(container: Container, topic: str) -> list[dict[str, object]]:
    with container.uow_factory(None, write=False) as uow:
        return [dict(m.payload) for m in uow.outbox.pending(topic)]


def test_renaming_a_member_refreshes_their_wallet_copy(
    member: MemberApp, container: Container
) -> None:
    client: TestClient = member.client
    body = member.add({"iphone": iphone()}).json()
    serial = body["serials"]["iphone"]
    cfg = container.wallet_config
    auth = {"Authorization": f"ApplePass {authentication_token(cfg, serial)}"}
    r = client.post(
        f"/passkit/v1/devices/lib-1/registrations/{PASS_TYPE}/{serial}",
        json={"pushToken": PUSH},
        headers=auth,
    )
    assert r.status_code == 201
    first = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers=auth)
    before = len(_outbox(container, "apns"))

    r = client.patch(
        f"/api/v1/members/{member.member_id}",
        json={"display_name": "Ann Renamed"},
        headers=member.org.headers,
    )
    assert r.status_code == 200
    pushes = _outbox(container, "apns")[before:]
    assert [p["push_token"] for p in pushes] == [PUSH] and pushes[0]["topic"] == PASS_TYPE

    again = client.get(
        f"/passkit/v1/passes/{PASS_TYPE}/{serial}",
        headers={**auth, "If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status_code == 200
    pass_json = json.loads(zipfile.ZipFile(BytesIO(again.content)).read("pass.json"))
    assert "Ann Renamed" in json.dumps(pass_json)


def test_deactivating_a_member_tells_readers_and_wallet(
    member: MemberApp, container: Container
) -> None:
    client: TestClient = member.client
    member.add({"iphone": iphone()})
    head = reader_log_head(container, member.org.id)
    r = client.patch(
        f"/api/v1/members/{member.member_id}",
        json={"status": "deactivated"},
        headers=member.org.headers,
    )
    assert r.status_code == 200
    # Readers learn it from the change log: the member's row (active: false) reloads.
    assert ("member", member.member_id) in reader_log_since(container, member.org.id, head)
