"""/metrics answers operators' questions: taps by result and reason, readers, the outbox."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.proto import snapshot as snap


def _value(scrape: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{wanted}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, scrape, re.MULTILINE)
    return float(found.group(1)) if found else None


def _tap(sequence: int, granted: bool, reason: str) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "kind": "access",
        "occurred_at": "2026-11-27T09:00:00+00:00",
        "granted": granted,
        "reason": reason,
    }


def _send_events(ws: Any, items: list[dict[str, Any]]) -> None:
    ws.send_text(snap.encode_message({"type": "events", "items": items}))
    while True:  # snapshots and heartbeats may come before the acknowledgement
        msg = json.loads(ws.receive_text())
        if msg["type"] == "ack":
            assert msg["sequences"] == [i["sequence"] for i in items]
            return
        assert msg["type"] != "error", msg


def test_taps_readers_and_the_outbox_are_in_the_metrics(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()  # a reader, and a webhook that queues a message per event
    scrape = client.get("/metrics").text
    assert _value(scrape, "passgate_database_up") == 1
    assert _value(scrape, "passgate_readers", state="offline") == 1
    assert _value(scrape, "passgate_readers", state="online") == 0
    queued = _value(scrape, "passgate_outbox_messages", kind="webhook", state="queued")
    assert queued is not None and queued >= 1
    age = _value(scrape, "passgate_outbox_oldest_pending_seconds", kind="webhook")
    assert age is not None and age >= 0

    code = client.post(f"/api/v1/readers/{ids['reader']}/pairing_code", headers=org.headers)
    key = ec.generate_private_key(ec.SECP256R1())
    paired = client.post(
        "/reader/v1/pair", json={"code": code.json()["code"], "public_key": snap.public_pem(key)}
    )
    assert paired.status_code == 200, paired.text
    reader_id = paired.json()["reader_id"]
    with client.websocket_connect("/reader/v1/ws") as ws:
        nonce = json.loads(ws.receive_text())["nonce"]
        ws.send_text(
            snap.encode_message(
                {
                    "type": "auth",
                    "reader_id": reader_id,
                    "signature": snap.sign(key, snap.auth_message(nonce, reader_id)),
                    "version": 0,
                    "status": {},
                }
            )
        )
        _send_events(ws, [_tap(1, True, "granted"), _tap(2, False, "pass_suspended")])
        # A resend after a lost acknowledgement is stored once, and counted once.
        _send_events(ws, [_tap(2, False, "pass_suspended"), _tap(3, False, "pass_suspended")])
        live = client.get("/metrics").text
        assert _value(live, "passgate_readers", state="online") == 1
        _send_events(
            ws,
            [
                {
                    "sequence": 4,
                    "kind": "tamper",
                    "occurred_at": "2026-11-27T09:01:00+00:00",
                    "granted": False,
                    "reason": "reader_tampered",
                }
            ],
        )

    deadline = time.monotonic() + 15  # the server notes the disconnect on its own thread
    while _value(scrape := client.get("/metrics").text, "passgate_readers", state="offline") != 1:
        assert time.monotonic() < deadline, "the reader never showed as offline again"
        time.sleep(0.02)
    assert _value(scrape, "passgate_taps_total", result="granted", reason="granted") == 1
    assert _value(scrape, "passgate_taps_total", result="denied", reason="pass_suspended") == 2
    assert _value(scrape, "passgate_readers", state="tampered") == 1
    more = _value(scrape, "passgate_outbox_messages", kind="webhook", state="queued")
    assert more is not None and more > queued  # each stored event queued a webhook
