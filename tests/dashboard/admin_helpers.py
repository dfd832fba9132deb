"""Shared by the administration browser tests: signed-in pages for a role, audit reads,
and screenshots of each page at desktop and phone widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page
from tests.conftest import Org

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.auth import sessions

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def session_token(container: Container, org: Org, email: str, role: str = "admin") -> str:
    created = org.post(
        "/members", {"email": email, "display_name": f"{role} {email}", "role": role}
    )
    proof = sessions.LoginProof(
        "oidc", "https://idp.test", True, ("pwd", "otp"), container.clock.now()
    )
    with container.uow_factory(org.id) as uow:
        member = uow.repo(m.Member).get(created["id"])
        issued = sessions.start_session(
            uow,
            member=member,
            kind=m.SessionKind.BROWSER,
            proof=proof,
            policy=container.session_policy(m.SessionKind.BROWSER),
            now=container.clock.now(),
        )
    return issued.token


def signed_in(browser: Browser, base: str, token: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "passgate_session", "value": token, "url": base}])
    return context.new_page()


def shoot(page: Page, where: Path, name: str) -> None:
    """The page as it is now, at both widths (the viewport comes back to desktop)."""
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        target = where / f"{name}-{label}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 1000, target
    page.set_viewport_size({"width": 1280, "height": 900})


def audit(client: TestClient, org: Org, event_type: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/events?type={event_type}", headers=org.headers)
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    return events


def csrf_of(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "passgate_csrf")
