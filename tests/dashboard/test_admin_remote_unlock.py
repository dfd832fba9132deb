"""Remote unlock from the door page, in headless Chromium, with a real reader agent
connected to the same server: confirm naming the door, see the result, relay pulsed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.reader.support import AgentClock, RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.reader.relay import SimulatedRelay


def test_an_admin_unlocks_a_door_after_confirming_and_sees_the_reader_open_it(
    client: TestClient, container: Container, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    world = World(client, container)
    token = session_token(container, world.org, "ada@example.com")
    with live_server(container) as base:
        agent_clock = AgentClock()  # the server runs on the test's clock; readers keep NTP time
        agent_clock.offset = container.clock.now() - datetime.now(UTC)
        ra = RunningAgent(str(tmp_path / "agent.db"), clock=agent_clock)
        ra.pair(base, world.pairing_code(world.reader))
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            page = signed_in(browser, base, token)
            page.goto(f"/dashboard/doors/{world.door}")
            page.get_by_role("link", name="Unlock Front now…").click()
            confirm = page.locator("[data-confirm]")
            expect(confirm.get_by_role("heading")).to_have_text("Unlock Front now?")
            shoot(page, shots, "door-unlock-confirm")
            relay = ra.agent.relay
            assert isinstance(relay, SimulatedRelay) and relay.pulses == []
            confirm.get_by_role("button", name="Yes, unlock Front").click()
            # The page follows the command until the reader has answered.
            result = page.locator("[data-command-state=done]")
            expect(result).to_contain_text("Unlocked Front", timeout=20_000)
            shoot(page, shots, "door-unlocked")
            assert len(relay.pulses) == 1
            (requested,) = audit(client, world.org, "door.unlock_requested")
            assert requested["actor_name"] == "admin ada@example.com"
            assert requested["data"]["session_id"] and requested["object_id"] == world.door

            # A locked-down door is refused on the page, naming the rule; nothing is sent.
            page.get_by_role("button", name="Lock down Front").click()
            expect(page.locator("[data-lockdown=on]")).to_be_visible()
            page.get_by_role("link", name="Unlock Front now…").click()
            page.get_by_role("button", name="Yes, unlock Front").click()
            expect(page.locator("[data-error-field=door_id]")).to_contain_text("locked down")
            assert len(relay.pulses) == 1
            assert len(audit(client, world.org, "door.unlock_requested")) == 1
        finally:
            ra.stop()
