"""An admin signs in to the dashboard the real way: organization SSO with a TOTP step.

The development IdP is a real OpenID provider on its own port; the browser goes
through its password and one-time-code pages and comes back with a session cookie.
"""

from __future__ import annotations

import pyotp
from playwright.sync_api import Browser, expect
from tests.devidp.test_devidp import PASSWORD, _configure, devidp, user  # noqa: F401
from tests.sso.conftest import LiveServer, live  # noqa: F401

from passgate.devidp.users import DevUser


def test_sign_in_with_sso_and_totp_then_sign_out(
    live: LiveServer,  # noqa: F811
    devidp: str,  # noqa: F811
    user: DevUser,  # noqa: F811
    browser: Browser,
) -> None:
    _configure(live, devidp)
    page = browser.new_context(base_url=live.url).new_page()
    page.goto("/dashboard/events")
    expect(page.get_by_role("heading", name="Sign in to Passgate")).to_be_visible()

    page.get_by_label("Organization").fill("acme")
    page.get_by_role("button", name="Continue with SSO").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Code").fill(pyotp.TOTP(user.totp_secret).now())
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Acme")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["passgate_session"]["httpOnly"] is True
    page.get_by_role("link", name="Events").click()
    expect(page.locator("tr[data-type='session.started']")).to_have_count(1)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Passgate")).to_be_visible()
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Sign in to Passgate")).to_be_visible()


def test_a_single_factor_sign_in_still_reaches_the_dashboard_but_not_sso_settings(
    live: LiveServer,  # noqa: F811
    devidp: str,  # noqa: F811
    user: DevUser,  # noqa: F811
    browser: Browser,
) -> None:
    _configure(live, devidp)
    page = browser.new_context(base_url=live.url).new_page()
    page.goto("/dashboard/login")
    page.get_by_label("Organization").fill("acme")
    page.get_by_role("button", name="Continue with SSO").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Skip (single-factor)").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "passgate_csrf")
    # R2/R3 settings need a fresh MFA sign-in: this session's word is not enough.
    r = page.request.patch(
        "/api/v1/sso/settings", data={"sso_enforced": False}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 409 and r.json()["error"]["code"] == "mfa_required"
