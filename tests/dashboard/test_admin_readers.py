"""Dashboard administration of readers, in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.proto import snapshot as snap
from passgate.web.app import create_app


def test_an_admin_adds_pairs_edits_protects_clears_and_removes_a_reader(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    token = session_token(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        page.goto("/dashboard/readers")
        page.get_by_role("link", name="Add a reader").click()
        form = page.get_by_role("form", name="New reader")
        form.get_by_label("Name").fill("Lobby reader")
        # Models are offered by their names.
        expect(form.get_by_label("Model").locator("option")).to_contain_text(
            ["Reader Lite 1.0", "Reader Pro 2.0", "Reader Pro 2.1 (Apple Pass)"]
        )
        form.get_by_label("Model").select_option(label="Reader Pro 2.1 (Apple Pass)")
        form.get_by_label("Firmware version").fill("   ")
        form.get_by_role("button", name="Add reader").click()
        # The firmware is required by the same rule as the API: refused, nothing added.
        expect(page.locator("[data-error-field=firmware]")).to_contain_text("Firmware")
        assert len(client.get("/api/v1/readers", headers=org.headers).json()) == 1
        shoot(page, shots, "reader-new-error")
        page.get_by_label("Firmware version").fill("2.1.4")
        page.get_by_role("button", name="Add reader").click()

        code = page.locator("[data-pairing-code]").inner_text()
        assert len(code.replace("-", "")) >= 12
        shoot(page, shots, "reader-pairing-code")
        (reader,) = [
            x
            for x in client.get("/api/v1/readers", headers=org.headers).json()
            if x["name"] == "Lobby reader"
        ]
        assert reader["model"] == "reader_pro_2_1" and reader["tamper_protection"]
        # Shown once: the reader's page never shows it again, nor does any event.
        page.get_by_role("link", name="Done").click()
        assert code not in page.content()
        assert code not in client.get("/api/v1/events", headers=org.headers).text
        assert audit(client, org, "reader.pairing_code_created")
        # The code pairs a real agent.
        r = client.post(
            "/reader/v1/pair",
            json={"code": code, "public_key": _agent_key(), "aliro_public_key": _aliro_key()},
        )
        assert r.status_code == 200, r.text
        assert r.json()["reader_id"] == reader["id"]

        # Edit: model by name, and a model change is audited.
        edit = page.get_by_role("form", name="Edit reader")
        edit.get_by_label("Model").select_option(label="Reader Pro 2.0")
        edit.get_by_role("button", name="Save reader").click()
        expect(page.get_by_role("status")).to_contain_text("Saved reader Lobby reader")
        expect(page.locator("[data-reason=reader_unsupported]")).to_be_visible()
        assert audit(client, org, "reader.updated")[0]["data"]["after"] == {
            "model": "reader_pro_2_0"
        }

        # Tamper protection off and back on.
        page.get_by_role("button", name="Turn tamper protection off").click()
        expect(page.locator("[data-tamper-protection=off]")).to_be_visible()
        expect(page.locator("[data-reason=tamper_protection_off]")).to_be_visible()
        page.get_by_role("button", name="Turn tamper protection on").click()
        expect(page.locator("[data-tamper-protection=on]")).to_be_visible()

        # Clear a tamper from the reader's page.
        with container.uow_factory(org.id) as uow:
            row = uow.repo(m.Reader).get(reader["id"])
            row.tampered = True
            uow.repo(m.Reader).update(row)
        page.reload()
        shoot(page, shots, "reader")
        page.get_by_role("button", name="Clear tamper").click()
        expect(page.get_by_role("status")).to_contain_text("Tamper cleared on Lobby reader")
        expect(page.get_by_role("heading", name="Lobby reader")).to_be_visible()

        # A new pairing code replaces the old one.
        page.get_by_role("button", name="New pairing code").click()
        second = page.locator("[data-pairing-code]").inner_text()
        assert second != code
        page.get_by_role("link", name="Done").click()

        # Remove, confirmed, naming what stops working.
        page.get_by_role("link", name="Remove reader…").click()
        expect(page.locator("[data-confirm]")).to_contain_text("stops opening Front")
        shoot(page, shots, "reader-confirm-delete")
        page.get_by_role("button", name="Yes, delete reader Lobby reader").click()
        expect(page.get_by_role("status")).to_contain_text("Removed reader Lobby reader")
        remaining = client.get("/api/v1/readers", headers=org.headers).json()
        assert [x["id"] for x in remaining] == [ids["reader"]]
        assert audit(client, org, "reader.deleted")[0]["data"]["session_id"]
        shoot(page, shots, "readers")


def _agent_key() -> str:
    return snap.public_pem(ec.generate_private_key(ec.SECP256R1()))


def _aliro_key() -> str:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return point.hex()
