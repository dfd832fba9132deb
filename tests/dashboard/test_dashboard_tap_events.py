"""The admin path end to end: a real reader agent, an emulated iPhone, the dashboard.

The admin suspends the pass in the browser; the next tap at the door is denied with
`pass_suspended` and the denial shows in the dashboard's event log (R17-R19, R15, R16).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.dashboard.test_dashboard_browser import _admin_cookie, _signed_in_page
from tests.reader.support import Device, RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.reader.agent import ReaderAgent
from passgate.reader.transport.emulated import EmulatedCard


def _tap(agent: ReaderAgent, device: Device) -> str:
    result = agent.tap(EmulatedCard(device.applet))
    assert result is not None
    return result.decision.reason.value


def test_suspend_in_the_dashboard_then_the_next_tap_is_denied_and_logged(
    client: TestClient, container: Container, browser: Browser, tmp_path: Path
) -> None:
    world = World(client, container)
    token = _admin_cookie(container, world.org, "ada@example.com")
    with live_server(container) as server:
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            agent = ra.agent
            wait_until(lambda: agent.view is not None, "first snapshot")
            assert _tap(agent, world.device) == "granted"

            page = _signed_in_page(browser, server, token)
            page.goto("/dashboard/credentials/apple-passes")
            expect(page.locator(f"[data-pass={world.pass_id}] [data-devices=iphone]")).to_have_text(
                "iPhone"
            )
            page.get_by_role("link", name="M", exact=True).click()
            page.get_by_role("button", name="Suspend").click()
            page.get_by_role("button", name="Yes, suspend").click()
            expect(page.locator("#pass-status")).to_have_text("Suspended")

            wait_until(lambda: _tap(agent, world.device) == "pass_suspended", "denied tap")
            wait_until(lambda: agent.store.event_count() == 0, "events delivered")

            page.get_by_role("link", name="Events").click()
            page.get_by_label("Result").select_option("denied")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator("tr[data-reason=pass_suspended]").first).to_be_visible()

            page.goto(f"/dashboard/credentials/apple-passes/{world.pass_id}")
            page.get_by_role("button", name="Resume").click()
            expect(page.locator("#pass-status")).to_have_text("Active")
            wait_until(lambda: _tap(agent, world.device) == "granted", "granted again")

            page.get_by_role("button", name="Delete").click()
            page.get_by_role("button", name="Yes, delete").click()
            expect(page.locator("#pass-status")).to_have_text("Deleted")
            wait_until(lambda: _tap(agent, world.device) == "pass_deleted", "deleted pass denied")
        finally:
            ra.stop()
