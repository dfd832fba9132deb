"""/metrics answers operators' questions: taps by result and reason, readers, the outbox."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.livesrv import serve
from websockets.sync.client import ClientConnection, connect

from passgate.bootstrap import Container
from passgate.proto import link
from passgate.proto import snapshot as snap
from passgate.reader.agent import ReaderAgent
from passgate.reader.store import AgentStore
from passgate.reader.sync import pair, ws_url
from passgate.web.app import create_app


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


def _send_events(ws: ClientConnection, items: list[dict[str, Any]]) -> None:
    ws.send(link.encode({"type": "events", "items": items}))
    while True:  # snapshots and heartbeats may come before the acknowledgement
        msg = json.loads(ws.recv(timeout=10))
        if msg["type"] == "ack":
            assert msg["sequences"] == [i["sequence"] for i in items]
            return
        assert msg["type"] != "error", msg


def _paired_reader(server: str, code: str, tmp_path: Path) -> tuple[str, Any]:
    """Pair as the reader agent does; returns the reader id and its link key."""
    store = AgentStore(str(tmp_path / "reader.db"))
    try:
        reader_id = pair(ReaderAgent(store), server, code)
        key = snap.load_private_pem(store.get("link_key").encode())
    finally:
        store.close()
    return reader_id, key


def _scrape(server: str) -> str:
    return httpx.get(server + "/metrics", timeout=10).text


def test_taps_readers_and_the_outbox_are_in_the_metrics(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
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
    with serve(create_app(container)) as server:
        reader_id, key = _paired_reader(server, code.json()["code"], tmp_path)
        with connect(ws_url(server)) as ws:
            nonce = json.loads(ws.recv(timeout=10))["nonce"]
            ws.send(
                link.encode(
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
            assert _value(_scrape(server), "passgate_readers", state="online") == 1
            # A change to what the reader must know is pushed, and the push is timed. The
            # hub's periodic poll can carry a change before that commit's wake-up arrives;
            # such a push is not timed, so the change is made again (at most five times).
            for _ in range(5):
                reader = client.get(f"/api/v1/readers/{ids['reader']}", headers=org.headers)
                toggled = {"tamper_protection": not reader.json()["tamper_protection"]}
                r = client.patch(
                    f"/api/v1/readers/{ids['reader']}", json=toggled, headers=org.headers
                )
                assert r.status_code == 200, r.text
                deadline = time.monotonic() + 3  # bounds a wait; not a timing assertion
                while time.monotonic() < deadline:
                    if _value(_scrape(server), "passgate_reader_push_seconds_count"):
                        break
                    time.sleep(0.02)
                else:
                    continue
                break
            assert _value(_scrape(server), "passgate_reader_push_seconds_count"), "not timed"
            tamper = {**_tap(4, False, "reader_tampered"), "kind": "tamper"}
            _send_events(ws, [tamper])

        deadline = time.monotonic() + 15  # the server notes the disconnect on its own
        while _value(scrape := _scrape(server), "passgate_readers", state="offline") != 1:
            assert time.monotonic() < deadline, "the reader never showed as offline again"
            time.sleep(0.02)
    assert _value(scrape, "passgate_taps_total", result="granted", reason="granted") == 1
    assert _value(scrape, "passgate_taps_total", result="denied", reason="pass_suspended") == 2
    assert _value(scrape, "passgate_readers", state="tampered") == 1
    more = _value(scrape, "passgate_outbox_messages", kind="webhook", state="queued")
    assert more is not None and more > queued  # each stored event queued a webhook


def test_every_metric_of_the_grafana_dashboard_is_exposed(client: TestClient) -> None:
    dashboard = json.loads(
        (Path(__file__).parents[2] / "docs/grafana/passgate-dashboard.json").read_text()
    )
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"passgate_[a-z_]+", target["expr"])
    }
    client.get("/healthz")  # one request, so the HTTP histogram has samples
    scrape = client.get("/metrics").text
    exposed = {ln.split()[2] for ln in scrape.splitlines() if ln.startswith("# TYPE ")}
    exposed |= {
        re.split(r"[{ ]", ln, maxsplit=1)[0] for ln in scrape.splitlines() if ln[:1].isalpha()
    }
    assert len(used) >= 7
    assert used - exposed == set()


def test_failed_delivery_attempts_are_counted_per_kind(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    org.world()  # its webhook queued a message per event
    before = client.get("/metrics").text
    assert _value(before, "passgate_outbox_failed_attempts", kind="webhook") == 0
    retrying = _value(before, "passgate_outbox_messages", kind="webhook", state="retrying")
    now = container.clock.now()
    with container.uow_factory(None) as uow:  # as a worker records two failed tries
        first, second = uow.outbox.claim("webhook", worker_id="t", now=now, lease_s=30, limit=2)
        for message in (first, second):
            assert message.id is not None
            uow.outbox.mark_retry(message.id, error="HTTP 503", next_attempt_at=now)
        assert first.id is not None
        uow.outbox.mark_retry(first.id, error="HTTP 503", next_attempt_at=now)
    after = client.get("/metrics").text
    assert _value(after, "passgate_outbox_failed_attempts", kind="webhook") == 3
    assert _value(after, "passgate_outbox_messages", kind="webhook", state="retrying") == (
        (retrying or 0) + 2
    )
