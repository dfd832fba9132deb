"""What the end-to-end tests use to act on a running demo stack: people, devices, the admin.

``World`` wraps one started ``DemoStack``: the member's side goes through the device
emulator only (app sign-in through the dev IdP, add-pass, Wallet sync after APNs pushes,
NFC taps and Bluetooth attempts at the reader agents' emulated radios); the admin's side
through the REST API with the seeded admin key, the operator's with the operator key.
Waiting is always a bounded poll for a condition (changes travel through the outbox,
the reader link and APNs), never a timed assertion.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from passgate.demo.stack import DemoStack
from passgate.services.seed import FRONT_DOOR
from passgate.sim.emulator import AddResult, Emulator
from passgate.sim.home import SimError
from passgate.sim.wallet import WalletPass

SETTLE_S = 15.0  # bounds every wait; R16 promises one second, the bound is for a busy CI box
T = TypeVar("T")


def poll(
    fetch: Callable[[], T], until: Callable[[T], bool], what: str, limit_s: float = SETTLE_S
) -> T:
    """Call ``fetch`` until ``until`` holds; fail naming ``what`` and the last value seen."""
    deadline = time.monotonic() + limit_s
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last seen: {value!r}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Person:
    """A fresh member of the demo organization, known to the dev IdP by ``username``."""

    username: str
    email: str
    member_id: str

    def dev(self, name: str) -> str:
        """A device name of this person's (device names are global in the emulator home)."""
        return f"{self.username}-{name}"


class ShiftedServerClock:
    """Passgate's clock moved forward, for rules about elapsed time (MFA freshness)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class World:
    def __init__(self, stack: DemoStack, pool: list[str], domain: str) -> None:
        self.stack = stack
        self.emu = Emulator(stack.sim_home)
        self.http = httpx.Client(base_url=stack.base_url, timeout=15.0)
        self.admin = {"Authorization": f"Bearer {stack.api_token}"}
        self.operator = {"Authorization": f"Bearer {stack.operator_key}"}
        self._pool = iter(pool)
        self._domain = domain
        self.taps: dict[str, int] = {}  # member id -> decisions made at readers (R15)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.emu.close()
        self.http.close()

    # --- REST -----------------------------------------------------------------------------
    def call(
        self, method: str, path: str, *, key: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return self.http.request(method, f"/api/v1{path}", headers=key or self.admin, **kw)

    def api(self, method: str, path: str, *, operator: bool = False, **kw: Any) -> Any:
        r = self.call(method, path, key=self.operator if operator else self.admin, **kw)
        assert r.status_code < 400, f"{method} {path}: HTTP {r.status_code} {r.text[:300]}"
        return r.json() if r.content else None

    def group_id(self, name: str = "Staff") -> str:
        return str(next(g["id"] for g in self.api("GET", "/groups") if g["name"] == name))

    # --- people -----------------------------------------------------------------------------
    def new_person(self, *, access: bool = True) -> Person:
        """The next unused IdP user, made a member (with Staff access unless told otherwise)."""
        username = next(self._pool)
        email = f"{username}@{self._domain}"
        member = self.api(
            "POST", "/members", json={"email": email, "display_name": f"E2E {username}"}
        )
        if access:
            self.api(
                "POST",
                "/access_rights",
                json={"member_id": member["id"], "group_id": self.group_id()},
            )
        return Person(username, email, member["id"])

    def phone_signed_in(self, who: Person, name: str = "phone", **versions: str) -> str:
        """A new iPhone of ``who`` signed in to the app with password + TOTP (MFA proven)."""
        device = who.dev(name)
        self.emu.new_iphone(device, **versions)
        assert self.emu.sign_in(device, who.username), "the dev IdP did not prove MFA"
        return device

    def with_pass(self, who: Person, *, watch: bool = False) -> tuple[str, str | None, AddResult]:
        """iPhone (and an unlocked watch) of ``who`` holding an added pass."""
        phone = self.phone_signed_in(who)
        watch_name = None
        if watch:
            watch_name = who.dev("watch")
            self.emu.new_watch(watch_name, iphone=phone)
        added = self.emu.add_pass(phone)
        return phone, watch_name, added

    def refused(self, fn: Callable[[], Any]) -> str:
        """Run an emulator action expected to be refused; the refusal's message."""
        try:
            fn()
        except SimError as exc:
            return str(exc)
        raise AssertionError("expected a refusal, the action succeeded")

    # --- at the door --------------------------------------------------------------------------
    def tap(self, who: Person, device: str, door: str = FRONT_DOOR) -> dict[str, Any]:
        got = self.emu.tap(device, door)
        self.taps[who.member_id] = self.taps.get(who.member_id, 0) + 1
        return got

    def tap_until(
        self, who: Person, device: str, reason: str, door: str = FRONT_DOOR
    ) -> dict[str, Any]:
        """Tap until the reader answers ``reason`` (a change takes a moment to arrive)."""
        return poll(
            lambda: self.tap(who, device, door),
            lambda got: got.get("reason") == reason,
            f"{device} at {door} -> {reason}",
        )

    # --- Wallet ---------------------------------------------------------------------------------
    def wallet_shows(self, device: str, status: str, *, voided: bool) -> WalletPass:
        """After an APNs push to ``device``, its Wallet syncs and shows ``status``."""
        pushed: list[str] = []

        def look() -> list[WalletPass]:
            pushed.extend(self.emu.receive_pushes(device, wait_s=0.5))
            return self.emu.passes(device)

        passes = poll(
            look,
            lambda ps: any(p.status == status and p.voided is voided for p in ps),
            f"{device}'s Wallet to show {status} (voided={voided})",
        )
        assert pushed, f"{device} showed {status} without an APNs push + sync"
        return next(p for p in passes if p.status == status)

    # --- the event log ------------------------------------------------------------------------
    def events(self, **params: Any) -> list[dict[str, Any]]:
        r = self.call("GET", "/events", params={"limit": 500, **params})
        assert r.status_code == 200, r.text
        return list(r.json())

    # --- organization-wide switches, always put back -------------------------------------------
    @contextmanager
    def sso_flags(self, **flags: bool) -> Iterator[None]:
        self.api("PATCH", "/sso/settings", json=flags)
        try:
            yield
        finally:
            self.api("PATCH", "/sso/settings", json={k: True for k in flags})

    @contextmanager
    def subscription_until(self, until: datetime) -> Iterator[None]:
        org = self.stack.org_id
        subs = self.api("GET", f"/organizations/{org}/subscriptions", operator=True)
        for sub in subs:
            self.api(
                "PATCH",
                f"/organizations/{org}/subscriptions/{sub['id']}",
                operator=True,
                json={"valid_until": until.isoformat()},
            )
        try:
            yield
        finally:
            for sub in subs:
                self.api(
                    "PATCH",
                    f"/organizations/{org}/subscriptions/{sub['id']}",
                    operator=True,
                    json={"valid_until": None},
                )

    @contextmanager
    def server_clock_ahead(self, offset: timedelta) -> Iterator[None]:
        """Passgate's clock ``offset`` ahead (request handlers read ``container.clock``)."""
        c = self.stack.container
        assert c is not None
        real = c.clock
        c.clock = ShiftedServerClock(offset)  # type: ignore[assignment]
        try:
            yield
        finally:
            c.clock = real

    def new_org_key(self) -> tuple[str, dict[str, str]]:
        """A fresh organization (operator API) and an admin key of it."""
        n = next(self._ids)
        slug = f"other-{self.stack.port}-{n}"
        org = self.api("POST", "/organizations", operator=True, json={"name": slug, "slug": slug})
        key = self.api(
            "POST", f"/organizations/{org['id']}/api_keys", operator=True, json={"name": "admin"}
        )
        return org["id"], {"Authorization": f"Bearer {key['token']}"}
