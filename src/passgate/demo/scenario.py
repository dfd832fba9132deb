"""`passgate demo --scenario`: the whole story, headless, one line per rule exercised.

Alice uses emulated devices that speak only the public protocols; the admin acts
through the REST API with the demo's admin key, the operator with the operator key.
Each step states what the rule expects; the first deviation ends the run with exit 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from passgate.demo.stack import DemoStack
from passgate.services.seed import FRONT_DOOR, LAB_DOOR, MEMBER_EMAIL
from passgate.sim.emulator import BluetoothOff, Emulator
from passgate.sim.home import SimError

SETTLE_S = 10.0  # bounds a wait for a change to reach a reader (R16 says within 1 s)


class Deviation(Exception):
    pass


class Story:
    def __init__(self, stack: DemoStack, echo: Callable[[str], None]) -> None:
        self.stack = stack
        self.echo = echo
        self.emu = Emulator(stack.sim_home)
        self.http = httpx.Client(base_url=stack.base_url, timeout=15.0)
        self.admin = {"Authorization": f"Bearer {stack.api_token}"}
        self.operator = {"Authorization": f"Bearer {stack.operator_key}"}
        self.steps = 0
        self.taps = 0  # every tap and Bluetooth attempt is one decision (R15)

    # --- reporting -----------------------------------------------------------------------
    def line(self, rule: str, what: str, outcome: str) -> None:
        self.steps += 1
        self.echo(f"{rule:<4} {what}: {outcome}")

    def api(self, method: str, path: str, *, operator: bool = False, **kw: Any) -> Any:
        r = self.http.request(
            method, f"/api/v1{path}", headers=self.operator if operator else self.admin, **kw
        )
        if r.status_code >= 400:
            raise Deviation(f"{method} {path} answered {r.status_code}: {r.text[:200]}")
        return r.json() if r.content else None

    # --- what the member does ------------------------------------------------------------
    def expect_tap(
        self, rule: str, device: str, door: str, reason: str, what: str, *, wave: bool = False
    ) -> None:
        """Tap (or, with ``wave``, MotionSense) until the reader answers ``reason``.

        Changes take a moment to arrive at the reader; every attempt is one decision.
        """
        attempt = self.emu.wave if wave else self.emu.tap
        deadline = time.monotonic() + SETTLE_S
        while True:
            got = attempt(device, door)
            self.taps += 1
            if got.get("reason") == reason or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        verdict = "granted" if got.get("granted") else "denied"
        if got.get("reason") != reason:
            raise Deviation(f"{rule} {what}: expected {reason}, reader said {got.get('reason')}")
        self.line(rule, what, f"{verdict} ({reason})")

    def expect_nothing(self, rule: str, device: str, door: str, what: str) -> None:
        """A wave that must not reach the reader at all (no decision, no event)."""
        try:
            got = self.emu.wave(device, door)
        except BluetoothOff as exc:
            self.line(rule, what, f"nothing happened ({exc})")
            return
        self.taps += 1
        raise Deviation(f"{rule} {what}: the reader decided {got}")

    def expect_refused(self, rule: str, what: str, fn: Callable[[], Any], needle: str) -> None:
        try:
            fn()
        except SimError as exc:
            if needle not in str(exc):
                raise Deviation(f"{rule} {what}: refused, but not for {needle}: {exc}") from exc
            self.line(rule, what, f"refused ({needle})")
            return
        raise Deviation(f"{rule} {what}: expected a refusal ({needle}), it succeeded")

    def expect_wallet(self, rule: str, device: str, status: str, voided: bool) -> None:
        updated = self.emu.receive_pushes(device, wait_s=SETTLE_S)
        passes = self.emu.passes(device)
        shown = [(p.status, p.voided) for p in passes]
        if not updated or (status, voided) not in shown:
            raise Deviation(f"{rule} {device} Wallet: expected {status}, shows {shown}")
        extra = ", voided" if voided else ""
        self.line(rule, f"{device} Wallet after push + sync", f"shows {status}{extra}")


def _story(s: Story) -> None:
    e = s.emu
    e.new_iphone("phone", ios="16.7", app="46.0")
    e.new_watch("watch", iphone="phone", locked=True)
    s.expect_refused(
        "R2",
        "sign-in without the one-time code (org requires MFA)",
        lambda: e.sign_in("phone", "alice", use_otp=False),
        "sign-in failed",
    )
    if not e.sign_in("phone", "alice"):
        raise Deviation("R2 sign-in with password + TOTP did not prove MFA")
    s.line("R2", "sign-in with password + TOTP through the dev IdP", "MFA proven (amr otp)")
    s.expect_refused("R5", "add on iOS 16.7", lambda: e.add_pass("phone"), "ios")
    e.set_versions("phone", ios="17.4", app="45.9")
    s.expect_refused("R5", "add with app 45.9", lambda: e.add_pass("phone"), "app")
    e.set_versions("phone", ios="17.4", app="46.10")
    added = e.add_pass("phone")
    if added.watch_skipped != "watch_locked" or added.added_to != ["phone"]:
        raise Deviation(f"R9 locked watch: {added.body.get('watch')}")
    s.line("R9", "add with the watch locked (app 46.10 > 46.9)", "iPhone only, watch skipped")
    e.set_locked("watch", False)
    again = e.add_pass("phone")
    if sorted(again.added_to) != ["phone", "watch"]:
        raise Deviation(f"R9 redo: added to {again.added_to}")
    s.line("R9", "add again with the watch unlocked", "iPhone and watch")
    s.expect_tap("R11", "phone", FRONT_DOOR, "granted", "iPhone taps the front door")
    s.expect_tap("R11", "watch", FRONT_DOOR, "granted", "watch taps the front door")
    s.expect_tap("R13", "phone", LAB_DOOR, "tamper_protection_off", "tap at the lab")
    got = e.bluetooth("phone", FRONT_DOOR)
    s.taps += 1
    if got.get("reason") != "unsupported_method":
        raise Deviation(f"R12 Bluetooth: {got}")
    s.line("R12", "Bluetooth LE exchange with the Apple Pass key", "denied (unsupported_method)")
    _motionsense(s)

    pass_id = added.body["pass_id"]
    rights = s.api("GET", "/access_rights", params={"limit": 500})
    member = next(m for m in s.api("GET", "/members") if m["email"] == MEMBER_EMAIL)
    mine = [r for r in rights if r["member_id"] == member["id"]]
    for r in mine:
        s.api("DELETE", f"/access_rights/{r['id']}")
    s.expect_tap("R6", "phone", FRONT_DOOR, "no_access_right", "access right removed")
    for r in mine:
        s.api(
            "POST", "/access_rights", json={"member_id": r["member_id"], "group_id": r["group_id"]}
        )
    s.expect_tap("R6", "phone", FRONT_DOOR, "granted", "access right given back")

    s.api("POST", f"/apple_passes/{pass_id}/suspend")
    s.expect_tap("R19", "phone", FRONT_DOOR, "pass_suspended", "pass suspended by the admin")
    s.expect_wallet("R19", "phone", "Suspended", False)
    s.expect_refused("R7", "add while suspended", lambda: e.add_pass("phone"), "suspended")
    s.api("POST", f"/apple_passes/{pass_id}/resume")
    s.expect_tap("R19", "phone", FRONT_DOOR, "granted", "pass resumed")
    s.expect_wallet("R19", "phone", "Active", False)

    s.api("PATCH", "/sso/settings", json={"mfa_required": False})
    s.expect_tap("R3", "phone", FRONT_DOOR, "org_not_eligible", "MFA requirement switched off")
    why = s.api("GET", "/organization")["eligibility_reasons"]
    s.line("R3", "the organization says why", ", ".join(why))
    s.api("PATCH", "/sso/settings", json={"mfa_required": True})
    s.expect_tap("R3", "phone", FRONT_DOOR, "granted", "MFA required again")
    org = s.stack.org_id
    subs = s.api("GET", f"/organizations/{org}/subscriptions", operator=True)
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    for sub in subs:  # it runs out while taps go on: no admin action ends it
        s.api(
            "PATCH",
            f"/organizations/{org}/subscriptions/{sub['id']}",
            operator=True,
            json={"valid_until": soon},
        )
    s.expect_tap("R1", "phone", FRONT_DOOR, "org_not_eligible", "subscription expired mid-life")
    for sub in subs:
        s.api(
            "PATCH",
            f"/organizations/{org}/subscriptions/{sub['id']}",
            operator=True,
            json={"valid_until": None},
        )
    s.expect_tap("R1", "phone", FRONT_DOOR, "granted", "subscription renewed")

    front = s.stack.readers[FRONT_DOOR]
    front.agent.tamper()
    s.expect_tap("R14", "phone", FRONT_DOOR, "reader_tampered", "front reader tampered")
    s.api("POST", f"/readers/{s.stack.reader_ids[FRONT_DOOR]}/clear-tamper")
    s.expect_tap("R14", "phone", FRONT_DOOR, "granted", "tamper cleared by the admin")

    front.stop_link()
    front.clock.offset = timedelta(hours=37)
    s.expect_tap("R16", "phone", FRONT_DOOR, "cache_stale", "offline 37 h (limit 36 h)")
    front.clock.offset = timedelta(0)
    front.start_link()
    s.expect_tap("R16", "phone", FRONT_DOOR, "granted", "back online")

    e.new_iphone("new-phone")
    e.sign_in("new-phone", "alice")
    moved = e.add_pass("new-phone")
    if len(moved.body.get("replaced", [])) != 2:
        raise Deviation(f"R10 new iPhone replaced {moved.body.get('replaced')}")
    s.line("R10", "pass added on a new iPhone", "old iPhone and its watch replaced")
    s.expect_wallet("R10", "phone", "Replaced by a newer device", True)
    s.expect_wallet("R10", "watch", "Replaced by a newer device", True)
    s.expect_tap("R10", "phone", FRONT_DOOR, "device_replaced", "old iPhone taps")
    s.expect_tap("R10", "watch", FRONT_DOOR, "device_replaced", "old watch taps")
    s.expect_tap("R10", "new-phone", FRONT_DOOR, "granted", "new iPhone taps")
    e.sign_out("phone")
    s.expect_nothing("R27", "phone", FRONT_DOOR, "wave after signing out of the app")

    other = s.api(
        "POST", "/organizations", operator=True, json={"name": "Globex", "slug": "globex"}
    )
    key = s.api("POST", f"/organizations/{other['id']}/api_keys", operator=True, json={"name": "a"})
    r = s.http.get(
        f"/api/v1/apple_passes/{pass_id}", headers={"Authorization": f"Bearer {key['token']}"}
    )
    if r.status_code != 404 or pass_id in r.text:
        raise Deviation(f"R21 another organization read the pass: {r.status_code}")
    s.line("R21", "another organization's admin asks for the pass", "404, nothing leaked")

    s.api("DELETE", f"/apple_passes/{pass_id}")
    s.expect_tap("R19", "new-phone", FRONT_DOOR, "pass_deleted", "pass deleted by the admin")
    s.expect_wallet("R19", "new-phone", "Deleted", True)
    fresh = e.add_pass("new-phone")
    if fresh.body["pass_id"] == pass_id or not fresh.body["created"]:
        raise Deviation("R7 add after delete did not make a new pass")
    s.line("R7", "add after the delete", "a new pass with new serials")
    s.expect_tap("R7", "new-phone", FRONT_DOOR, "granted", "the new pass opens the door")

    def stored() -> int:
        return int(
            s.http.get(
                "/api/v1/events", params={"category": "access", "limit": 1}, headers=s.admin
            ).headers["X-Total-Count"]
        )

    deadline = time.monotonic() + SETTLE_S
    while stored() < s.taps and time.monotonic() < deadline:
        time.sleep(0.1)
    if stored() != s.taps:
        raise Deviation(f"R15 the server stored {stored()} access events for {s.taps} decisions")
    s.line("R15", "access events stored by the server", f"{s.taps}, one per decision")


def _motionsense(s: Story) -> None:
    """R27: the app's own credential over Bluetooth LE, started by the motion sensor."""
    e = s.emu
    credential = e.home.device("phone").state.app_credential_id
    if not credential:
        raise Deviation("R27 the app holds no app credential after sign-in")
    s.line("R27", "app sign-in registered the app's own key", f"app credential {credential}")
    s.expect_tap("R27", "phone", FRONT_DOOR, "granted", "wave at the front door", wave=True)
    s.expect_tap("R27", "phone", LAB_DOOR, "tamper_protection_off", "wave at the lab", wave=True)
    e.set_bluetooth("phone", False)
    s.expect_nothing("R27", "phone", FRONT_DOOR, "wave with Bluetooth off")
    e.set_bluetooth("phone", True)
    s.api("POST", f"/app_credentials/{credential}/suspend")
    s.expect_tap(
        "R27", "phone", FRONT_DOOR, "credential_suspended", "app credential suspended", wave=True
    )
    s.api("POST", f"/app_credentials/{credential}/resume")
    s.expect_tap("R27", "phone", FRONT_DOOR, "granted", "app credential resumed", wave=True)


def run_scenario(stack: DemoStack, echo: Callable[[str], None]) -> int:
    story = Story(stack, echo)
    try:
        _story(story)
    except (Deviation, SimError, httpx.HTTPError) as exc:
        echo(f"DEVIATION: {exc}")
        return 1
    finally:
        story.emu.close()
        story.http.close()
    echo(f"scenario complete: {story.steps} checks, all as the rules say")
    return 0
