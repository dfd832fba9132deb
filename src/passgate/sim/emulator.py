"""The emulated member's hardware, as one object: iPhones with Wallet and the Passgate app,
paired Apple Watches, and their secure-element applets.

Every action goes over the public protocols only: the app API and SSO redirects (HTTP),
the PassKit web service (HTTP), APNs (the local receiver's inbox) and NFC (the reader
agent's emulated radio). Nothing here knows the server's internals.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from passgate.proto.aliro import AliroError, crypto
from passgate.proto.aliro.constants import GROUP_ID_LEN, INTERFACE_BLE
from passgate.sim import nfc, push
from passgate.sim.devices import EmulatedDevice
from passgate.sim.home import SimError, SimHome, check_name
from passgate.sim.signin import SignInError, sign_in
from passgate.sim.wallet import Wallet, WalletError, WalletPass, pem_roots

DEFAULT_IPHONE = {"model": "iPhone16,1", "ios": "17.4", "app": "46.0"}
DEFAULT_WATCH = {"model": "Watch7,1", "watchos": "10.2"}


@dataclass(frozen=True)
class AddResult:
    """What the app showed after an add: the server's answer and what each Wallet holds."""

    body: dict[str, Any]
    added_to: list[str]  # device names whose Wallet received a pass

    @property
    def watch_skipped(self) -> str | None:
        watch = self.body.get("watch")
        return watch.get("skipped_reason") if isinstance(watch, dict) else None


class Emulator:
    def __init__(self, home: SimHome, *, http: httpx.Client | None = None) -> None:
        self.home = home
        self.http = http or httpx.Client(timeout=15.0)

    def close(self) -> None:
        self.http.close()

    # --- devices -----------------------------------------------------------------------
    def new_iphone(
        self,
        name: str,
        *,
        model: str = DEFAULT_IPHONE["model"],
        ios: str = DEFAULT_IPHONE["ios"],
        app: str = DEFAULT_IPHONE["app"],
    ) -> EmulatedDevice:
        path = self.home.device_path(check_name(name))
        if path.exists():
            raise SimError(f"a device named {name!r} exists already")
        return EmulatedDevice.create(
            path, name=name, kind="iphone", model=model, os_version=ios, app_version=app
        )

    def new_watch(
        self,
        name: str,
        *,
        iphone: str,
        model: str = DEFAULT_WATCH["model"],
        watchos: str = DEFAULT_WATCH["watchos"],
        locked: bool = False,
    ) -> EmulatedDevice:
        phone = self.home.device(iphone)
        if phone.state.kind != "iphone":
            raise SimError(f"{iphone!r} is not an iPhone")
        path = self.home.device_path(check_name(name))
        if path.exists():
            raise SimError(f"a device named {name!r} exists already")
        previous = self.home.watch_of(iphone)
        if previous is not None:  # one watch per iPhone: pairing a new one unpairs the old
            previous.state.paired_with = None
            previous.save()
        return EmulatedDevice.create(
            path,
            name=name,
            kind="watch",
            model=model,
            os_version=watchos,
            paired_with=iphone,
            locked=locked,
        )

    def set_locked(self, name: str, locked: bool) -> EmulatedDevice:
        device = self.home.device(name)
        if device.state.kind != "watch":
            raise SimError(f"{name!r} is an iPhone; only watches are locked here")
        device.state.locked = locked
        device.save()
        return device

    def set_versions(self, name: str, *, ios: str | None, app: str | None) -> EmulatedDevice:
        device = self._iphone(name)
        if ios is not None:
            device.state.os_version = ios
        if app is not None:
            device.state.app_version = app
        device.save()
        return device

    def _iphone(self, name: str) -> EmulatedDevice:
        device = self.home.device(name)
        if device.state.kind != "iphone":
            raise SimError(f"{name!r} is a watch; this needs an iPhone")
        return device

    def wallet(self, name: str) -> Wallet:
        env = self.home.env()
        if not env.trust_root_pem:
            raise SimError("no trusted pass root configured (passgate sim setup --trust-root)")
        roots = pem_roots(Path(env.trust_root_pem).read_bytes())
        return Wallet(self.home.wallet_dir(name), roots, client=self.http)

    # --- the Passgate app ----------------------------------------------------------------
    def sign_in(self, iphone: str, username: str, *, use_otp: bool = True) -> bool:
        """Sign in to the app on ``iphone``; returns whether the IdP proved MFA."""
        device = self._iphone(iphone)
        env = self.home.env()
        account = self.home.account(username)
        # A fresh cookie jar per sign-in: the app's web view, not a shared browser.
        with httpx.Client(timeout=15.0) as web:
            try:
                session = sign_in(
                    web,
                    env.server,
                    env.org,
                    username=username,
                    password=account.password,
                    otp=account.totp_now if use_otp else None,
                )
            except (SignInError, httpx.HTTPError) as exc:
                raise SimError(f"sign-in failed: {exc}") from exc
        device.state.app_token = session.token
        device.save()
        self.register_app_credential(device)
        return session.mfa_proven

    def _app_api(self, device: EmulatedDevice, method: str, path: str, **kw: Any) -> httpx.Response:
        env = self.home.env()
        return self.http.request(
            method,
            f"{env.server.rstrip('/')}/api/v1/me/app_credentials{path}",
            headers={"Authorization": f"Bearer {device.state.app_token}"},
            **kw,
        )

    def register_app_credential(self, device: EmulatedDevice) -> None:
        """The app makes its own P-256 key and registers it (MotionSense, R27).

        A new sign-in makes a new key; the server deletes the previous credential of this
        phone (the same ``device_id``) when it registers the new one.
        """
        key = device.new_app_key()
        public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        r = self._app_api(
            device,
            "POST",
            "",
            json={"public_key": public.hex(), "device_id": device.state.device_id},
        )
        if r.status_code != 201:
            raise SimError(
                f"registering the app credential was refused (HTTP {r.status_code}): {_error(r)}"
            )
        try:
            body = r.json()
            credential_id = str(body["id"])
            groups = {
                str(g["group_identifier"]): str(g["public_key"]) for g in body["reader_groups"]
            }
            for group, group_key in groups.items():
                if len(bytes.fromhex(group)) != GROUP_ID_LEN:
                    raise ValueError("a reader group identifier is not 16 bytes")
                crypto.load_public_key(bytes.fromhex(group_key))
        except (ValueError, KeyError, TypeError, AliroError) as exc:
            raise SimError(f"the app credential answer is malformed: {exc}") from exc
        device.set_app_credential(key, credential_id, groups)

    def sign_out(self, iphone: str) -> None:
        """Sign out of the app: its credential is deleted, then the session ends."""
        device = self._iphone(iphone)
        if not device.state.app_token:
            raise SimError(f"{iphone!r} is not signed in to the Passgate app")
        if device.state.app_credential_id:
            r = self._app_api(device, "DELETE", f"/{device.state.app_credential_id}")
            if not r.is_success and r.status_code != 404:  # 404: an admin deleted it already
                raise SimError(
                    f"deleting the app credential failed (HTTP {r.status_code}): {_error(r)}"
                )
        env = self.home.env()
        r = self.http.post(
            f"{env.server.rstrip('/')}/api/v1/app/logout",
            headers={"Authorization": f"Bearer {device.state.app_token}"},
        )
        if r.status_code not in (204, 401):
            raise SimError(f"signing out failed (HTTP {r.status_code}): {_error(r)}")
        device.forget_app_credential()

    def set_bluetooth(self, iphone: str, on: bool) -> EmulatedDevice:
        device = self._iphone(iphone)
        device.state.bluetooth = on
        device.save()
        return device

    def add_pass(self, iphone: str) -> AddResult:
        """The app's "Add to Apple Wallet": iPhone plus its paired watch (R4, R5, R8, R9)."""
        phone = self._iphone(iphone)
        if not phone.state.app_token:
            raise SimError(f"sign in to the Passgate app on {iphone!r} first")
        watch = self.home.watch_of(iphone)
        for device in (phone, watch):
            # Like the app: a voided copy's key is dead (deleted R7, replaced R10), so make
            # a new one first; the server refuses a key it has seen before.
            if device is None:
                continue
            wallet = self.wallet(device.name)
            dead = [p for p in wallet.passes() if p.voided]
            if dead:
                device.rotate_key()
                for p in dead:  # and the dead pass leaves the Wallet
                    wallet.remove(p.serial)
        r = self._post_pass(phone, watch)
        for _ in range(2):  # at most one dead key per device
            dead_key = _dead_key_of(r)
            if dead_key is None:
                break
            # Its copy is no longer valid although no push said so yet (the pass moved to
            # another iPhone and back): like the app, make a new key and ask again.
            target = phone if dead_key == "iphone" else watch
            if target is None:
                break
            target.rotate_key()
            r = self._post_pass(phone, watch)
        if r.status_code != 200:
            raise SimError(f"adding the pass was refused (HTTP {r.status_code}): {_error(r)}")
        answer: dict[str, Any] = r.json()
        added: list[str] = []
        for kind, data in answer.get("pkpass_base64", {}).items():
            target = phone if kind == "iphone" else watch
            if target is None:
                continue
            try:
                self.wallet(target.name).add(base64.b64decode(data))
            except WalletError as exc:
                raise SimError(f"{target.name}: {exc}") from exc
            added.append(target.name)
        return AddResult(answer, added)

    def _post_pass(self, phone: EmulatedDevice, watch: EmulatedDevice | None) -> httpx.Response:
        body: dict[str, Any] = {
            "iphone": {
                "device_id": phone.state.device_id,
                "model": phone.state.model,
                "ios_version": phone.state.os_version,
                "app_version": phone.state.app_version or "",
                "public_key": phone.public_key.hex(),
            }
        }
        if watch is not None:
            body["watch"] = {
                "device_id": watch.state.device_id,
                "model": watch.state.model,
                "watchos_version": watch.state.os_version,
                "locked": watch.state.locked,
                "public_key": watch.public_key.hex(),
            }
        env = self.home.env()
        return self.http.post(
            f"{env.server.rstrip('/')}/api/v1/me/apple_pass",
            json=body,
            headers={"Authorization": f"Bearer {phone.state.app_token}"},
        )

    # --- Wallet upkeep ---------------------------------------------------------------------
    def receive_pushes(self, name: str, *, wait_s: float = 0.0) -> list[str]:
        """Read the APNs inbox; if a push for this device came, sync its Wallet.

        Returns the serials updated. With ``wait_s`` it waits that long for a push.
        """
        env = self.home.env()
        wallet = self.wallet(name)
        if not env.push_inbox:
            raise SimError("no APNs inbox configured (passgate sim setup --push-inbox)")
        pushes, offset = push.wait_for_token(
            Path(env.push_inbox), wallet.push_token, wallet.inbox_offset, wait_s
        )
        wallet.inbox_offset = offset
        if not any(p.token == wallet.push_token for p in pushes):
            return []
        return self.sync(name)

    def sync(self, name: str) -> list[str]:
        try:
            return self.wallet(name).sync(now=datetime.now(UTC))
        except (WalletError, httpx.HTTPError) as exc:
            raise SimError(f"{name}: Wallet update failed: {exc}") from exc

    def passes(self, name: str) -> list[WalletPass]:
        return self.wallet(name).passes()

    # --- at the door ---------------------------------------------------------------------
    def _reader(self, door: str) -> tuple[str, int]:
        readers = self.home.env().readers
        address = readers.get(door, door if ":" in door else None)
        if address is None:
            known = ", ".join(sorted(readers)) or "none"
            raise SimError(f"no reader for door {door!r} (known: {known}; or give host:port)")
        return nfc.parse_address(address)

    def tap(self, name: str, door: str) -> dict[str, Any]:
        """Hold the device to the door's reader (NFC, Tap to Unlock); the reader's answer."""
        device = self.home.device(name)
        try:
            groups = self.wallet(name).reader_groups()
            return nfc.tap(self._reader(door), device.applet(groups))
        except (nfc.NfcError, WalletError) as exc:
            raise SimError(str(exc)) from exc

    def _radio_on(self, device: EmulatedDevice) -> None:
        if not device.state.bluetooth:
            raise BluetoothOff(f"{device.name}: Bluetooth is off, nothing happened")

    def wave(self, name: str, door: str) -> dict[str, Any]:
        """MotionSense: wave at the door's reader; the app credential runs the BLE exchange."""
        device = self._iphone(name)
        self._radio_on(device)
        applet = device.app_applet()
        if applet is None:
            raise BluetoothOff(
                f"{name}: the Passgate app holds no credential (signed out), nothing happened"
            )
        try:
            return nfc.wave(self._reader(door), applet)
        except nfc.NfcError as exc:
            raise SimError(str(exc)) from exc

    def bluetooth(self, name: str, door: str) -> dict[str, Any]:
        """The same Bluetooth LE exchange with the device's Apple Pass key (refused, R12)."""
        device = self.home.device(name)
        self._radio_on(device)
        try:
            groups = self.wallet(name).reader_groups()
            return nfc.wave(self._reader(door), device.applet(groups, interface=INTERFACE_BLE))
        except (nfc.NfcError, WalletError) as exc:
            raise SimError(str(exc)) from exc


class BluetoothOff(SimError):
    """Nothing happened at the door: no Bluetooth link (radio off, or no app credential)."""


def _dead_key_of(r: httpx.Response) -> str | None:
    """ "iphone" or "watch" when the server refused that device's key as used before."""
    if r.status_code != 409:
        return None
    try:
        field = str(r.json()["error"].get("field") or "")
    except (ValueError, KeyError, AttributeError):
        return None
    kind = field.removesuffix(".public_key")
    return kind if kind in ("iphone", "watch") and field != kind else None


def _error(r: httpx.Response) -> str:
    try:
        err = r.json().get("error", {})
        return f"{err.get('code')}: {err.get('message')}"
    except (ValueError, AttributeError):
        return r.text[:300]
