"""Dashboard > Settings in a real browser: SSO and MFA values, API keys shown once,
webhooks with a test delivery through the delivery SSRF policy, the subscription's end."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import OPERATOR_KEY, SECRET_KEY, Org, operator_headers
from tests.dashboard.shots import shots
from tests.dashboard.test_dashboard_browser import _admin_cookie, _signed_in_page
from tests.dashboard.test_dashboard_truth import _member_cookie
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.config import Settings
from passgate.domain import model as m
from passgate.proto import webhook as wh
from passgate.web.app import create_app


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The test receiver listens on loopback, which the SSRF rule refuses unless allowed.
    return Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=OPERATOR_KEY,
        secret_key=SECRET_KEY,
        webhook_allowed_hosts=["127.0.0.1"],
    )


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"body": body, "headers": dict(self.headers)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got
    server.shutdown()
    server.server_close()


def test_an_admin_sets_sso_and_mfa_values_with_errors_by_field(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    org = Org(client, "acme")
    r = client.post(
        f"/api/v1/organizations/{org.id}/subscriptions",
        json={"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-06-30T00:00:00Z"},
        headers=operator_headers(),
    )
    assert r.status_code == 201, r.text
    token = _admin_cookie(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/settings")
        expect(page.locator("#subscription [data-ends]")).to_have_text("2027-06-30 00:00 UTC")
        expect(page.locator("[data-reason=sso_not_configured]")).to_be_visible()

        form = page.get_by_role("form", name="SSO connection")
        form.get_by_label("Issuer").fill("http://idp.example.com")
        form.get_by_label("Client id").fill("passgate")
        form.get_by_role("button", name="Save SSO connection").click()
        alert = page.locator("[role=alert][data-field=issuer]")
        expect(alert).to_contain_text("issuer must be an https URL")
        with container.uow_factory(org.id, write=False) as uow:
            assert uow.repo(m.SsoConnection).all_where() == []  # nothing half-saved

        form.get_by_label("Issuer").fill("https://idp.example.com")
        form.get_by_label("Client id").fill("passgate")
        form.get_by_label("Max sign-in age (s)").fill("ten")
        form.get_by_role("button", name="Save SSO connection").click()
        expect(page.locator("[role=alert][data-field=max_auth_age_s]")).to_contain_text(
            "whole number of seconds"
        )

        form.get_by_label("Max sign-in age (s)").fill("900")
        form.get_by_label("Client secret").fill("s3cret-value")
        form.get_by_label("Accepted MFA values").fill("otp\nhwk")
        form.get_by_role("button", name="Save SSO connection").click()
        expect(page.get_by_role("status")).to_have_text("SSO connection saved.")
        expect(form.get_by_label("Accepted MFA values")).to_have_value("otp\nhwk")
        expect(page.locator("body")).not_to_contain_text("s3cret-value")

        rules = page.get_by_role("form", name="Sign-in rules")
        rules.get_by_label("Every member signs in with SSO").check()
        rules.get_by_label("must prove multi-factor").check()
        rules.get_by_role("button", name="Save sign-in rules").click()
        expect(page.get_by_role("status")).to_have_text("Sign-in rules saved.")
        expect(page.locator("[data-reason=sso_not_enforced]")).to_have_count(0)
        expect(page.get_by_text("Eligible for Apple Passes")).to_be_visible()
        shots(page, screenshot_dir, "settings")

        # Turning the connection off while SSO is enforced is refused, naming the field.
        form.get_by_label("Enabled").uncheck()
        form.get_by_role("button", name="Save SSO connection").click()
        expect(page.locator("[role=alert][data-field=enabled]")).to_contain_text("enforced")

    sso = client.get("/api/v1/sso", headers=org.headers).json()
    assert sso["connection"]["settings"]["max_auth_age_s"] == 900
    assert sso["connection"]["accepted_mfa"] == ["otp", "hwk"]
    assert sso["connection"]["enabled"] is True and sso["connection"]["has_client_secret"]
    assert sso["sso_enforced"] and sso["mfa_required"]
    events = client.get("/api/v1/events", headers=org.headers).json()
    assert {"sso.connection_created", "sso.settings_changed"} <= {e["type"] for e in events}


def test_an_api_key_is_shown_once_and_revoked_with_a_named_warning(
    client: TestClient,
    container: Container,
    browser: Browser,
    screenshot_dir: Path | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    org = Org(client, "acme")
    token = _admin_cookie(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/settings")
        new = page.get_by_role("form", name="New API key")
        new.get_by_role("button", name="Create API key").click()  # blank name: the browser asks
        new.get_by_label("Key name").fill("   ")
        new.get_by_role("button", name="Create API key").click()
        expect(page.locator("[role=alert][data-field=name]")).to_contain_text("must not be blank")

        new.get_by_label("Key name").fill("Auditor export")
        new.get_by_label("Key role").select_option("read_only")
        new.get_by_role("button", name="Create API key").click()
        shown = page.locator("[data-shown-once]")
        expect(shown).to_be_visible()
        secret = shown.inner_text().strip()
        shots(page, screenshot_dir, "settings-api-key-shown-once")
        assert (
            client.get("/api/v1/places", headers={"Authorization": f"Bearer {secret}"}).status_code
            == 200
        )
        refused = client.post(
            "/api/v1/places", json={"name": "X"}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert refused.status_code == 403  # read-only

        page.goto("/dashboard/settings")
        expect(page.locator("[data-shown-once]")).to_have_count(0)
        expect(page.locator("body")).not_to_contain_text(secret)
        key_id = secret.split(".")[0]
        row = page.locator(f"[data-key={key_id}]")
        expect(row).to_contain_text("Auditor export")
        row.get_by_role("link", name="Revoke").click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text("Revoke the API key Auditor export?")
        expect(dialog).to_contain_text(f"sending {key_id} gets 401")
        dialog.get_by_role("button", name="Yes, revoke").click()
        expect(page.get_by_role("status")).to_have_text("API key Auditor export revoked.")
        expect(row).to_contain_text("Revoked")

    assert (
        client.get("/api/v1/places", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )
    with container.uow_factory(org.id, write=False) as uow:
        stored = uow.repo(m.ApiKey).get(key_id)
    assert secret.split(".")[1] not in stored.secret_hash
    assert secret not in caplog.text
    types = [e["type"] for e in client.get("/api/v1/events", headers=org.headers).json()]
    assert "api_key.created" in types and "api_key.revoked" in types


def test_webhooks_are_added_tested_edited_and_deleted(
    client: TestClient,
    container: Container,
    browser: Browser,
    screenshot_dir: Path | None,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, got = receiver
    org = Org(client, "acme")
    token = _admin_cookie(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/settings")
        new = page.get_by_role("form", name="New webhook")
        new.get_by_label("Webhook URL").fill("https://10.0.0.7/hook")
        new.get_by_role("button", name="Add webhook").click()
        expect(page.locator("[role=alert][data-field=url]")).to_contain_text("10.0.0.7")

        new.get_by_label("Webhook URL").fill(url)
        new.get_by_label("Only these event types").fill("access.denied")
        new.get_by_role("button", name="Add webhook").click()
        secret = page.locator("[data-shown-once]").inner_text().strip()
        assert secret.startswith("whsec_")
        with container.uow_factory(org.id, write=False) as uow:
            hook = uow.repo(m.Webhook).all_where()[0]
        assert secret not in hook.secret_encrypted

        card = page.locator(f"[data-webhook={hook.id}]")
        card.get_by_role("button", name="Send test delivery").click()
        expect(page.get_by_role("status")).to_contain_text(f"Test delivered to {url} (http 204)")
        assert len(got) == 1
        body, headers = got[0]["body"], {k.lower(): v for k, v in got[0]["headers"].items()}
        assert json.loads(body)["type"] == "webhook.test"
        assert headers[wh.EVENT_HEADER.lower()] == "webhook.test"
        now = int(container.clock.now().timestamp())
        signature = headers[wh.SIGNATURE_HEADER.lower()]
        assert wh.verify(secret.encode(), signature, body, now=now)

        card.get_by_label("Active").uncheck()
        card.get_by_label("Event types").fill("access.denied\naccess.granted")
        card.get_by_role("button", name="Save webhook").click()
        expect(page.get_by_role("status")).to_have_text("Webhook saved.")
        expect(card).to_contain_text("Paused")
        expect(card).to_contain_text("access.denied, access.granted")
        card.get_by_label("URL").fill("http://169.254.169.254/latest")
        card.get_by_role("button", name="Save webhook").click()
        expect(card.locator("[role=alert][data-field=url]")).to_contain_text("169.254.169.254")
        shots(page, screenshot_dir, "settings-webhooks")

        card.get_by_role("link", name="Delete").click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text(f"{url} stops receiving access.denied, access.granted")
        dialog.get_by_role("button", name="Yes, delete").click()
        expect(page.get_by_role("status")).to_have_text("Webhook deleted.")
        expect(page.locator(f"[data-webhook={hook.id}]")).to_have_count(0)

    types = [e["type"] for e in client.get("/api/v1/events", headers=org.headers).json()]
    assert {"webhook.created", "webhook.tested", "webhook.deleted"} <= set(types)


def test_settings_forms_refuse_a_member_and_a_missing_csrf_token(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    admin = _admin_cookie(container, org, "ada@example.com")
    member_id = org.post("/members", {"email": "mo@example.com", "display_name": "Mo"})["id"]
    member = _member_cookie(container, org.id, member_id)
    csrf = "t" * 32
    for token in (member, admin):
        client.cookies.clear()
        client.cookies.set("passgate_session", token)
        client.cookies.set("passgate_csrf", csrf)
        given = csrf if token == member else "wrong"
        r = client.post(
            "/dashboard/settings/api-keys",
            data={"name": "sneaky", "role": "admin", "csrf_token": given},
            headers={"Accept": "text/html"},
        )
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    client.cookies.clear()
    keys = client.get("/api/v1/api_keys", headers=org.headers).json()
    assert [k["name"] for k in keys if k["name"] == "sneaky"] == []
