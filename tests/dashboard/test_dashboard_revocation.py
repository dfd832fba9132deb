"""The revocation view: after a suspend, the pass page says which readers applied it.

Two real reader agents on the door: one stays connected and reports the version it
applied; the other went offline before the suspend, so the page says since when and at
what time its staleness limit makes it deny every tap (R16).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.dashboard.test_dashboard_browser import _admin_cookie, _signed_in_page
from tests.reader.support import RunningAgent, World, live_server, wait_until

from passgate.bootstrap import Container
from passgate.domain import model as m


def test_after_a_suspend_the_pass_page_shows_where_it_applied_and_who_is_offline(
    client: TestClient, container: Container, browser: Browser, tmp_path: Path
) -> None:
    world = World(client, container)
    second = world.add_reader("reader_pro_2_1", True)
    token = _admin_cookie(container, world.org, "ada@example.com")
    with live_server(container) as server:
        away = RunningAgent(str(tmp_path / "away.db"))
        away.pair(server, world.pairing_code(second))
        away.start()
        wait_until(lambda: away.agent.view is not None, "the second reader's snapshot")
        away.stop()  # offline from here on

        def offline() -> bool:
            with container.uow_factory(world.org.id, write=False) as uow:
                return not uow.repo(m.Reader).get(second).online

        wait_until(offline, "the second reader marked offline")
        ra = RunningAgent(str(tmp_path / "agent.db"))
        ra.pair(server, world.pairing_code(world.reader))
        ra.start()
        try:
            wait_until(lambda: ra.agent.view is not None, "first snapshot")
            page = _signed_in_page(browser, server, token)
            page.goto(f"/dashboard/credentials/apple-passes/{world.pass_id}")
            expect(page.locator("#revocation")).to_have_count(0)  # nothing revoked yet
            page.get_by_role("button", name="Suspend").click()
            page.get_by_role("button", name="Yes, suspend").click()
            expect(page.locator("#pass-status")).to_have_text("Suspended")

            wait_until(
                lambda: (
                    ra.agent.view is not None
                    and ra.agent.view.credentials[world.device.key_id].view.status.value
                    == "suspended"
                ),
                "the suspension at the connected reader",
            )
            # The agent's ack travels after its commit; the page shows it once recorded.
            summary = page.locator("#revocation-summary")
            for _ in range(100):
                page.reload()
                if summary.inner_text() == "Applied at 1 of 2 readers.":
                    break
                page.wait_for_timeout(100)
            expect(summary).to_have_text("Applied at 1 of 2 readers.")
            expect(page.locator(f"[data-reader={world.reader}]")).to_have_attribute(
                "data-rollout", "applied"
            )
            away_row = page.locator(f"[data-reader={second}]")
            expect(away_row).to_have_attribute("data-rollout", "offline")
            expect(away_row).to_contain_text("offline since")
            expect(away_row).to_contain_text("denies every tap by its staleness limit at")
        finally:
            ra.stop()
