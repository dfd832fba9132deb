"""An emulated Apple Wallet: keeps .pkpass files current through the PassKit web service.

It does what Wallet does and nothing more: verifies every pass it is given (signature,
certificate chain to a trusted root, manifest), registers each pass with the pass's own
web service using the pass's authentication token, and after a push (or on demand) asks
which serials changed and fetches them with If-Modified-Since. It knows nothing of
Passgate beyond the public protocol.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from passgate.proto.passkit import PkpassError, VerifiedPass, verify_pkpass
from passgate.sim.devices import write_private


class WalletError(Exception):
    """The wallet refused a pass or a web-service answer (the message says why)."""


@dataclass(frozen=True)
class WalletPass:
    serial: str
    pass_type_identifier: str
    organization: str
    status: str  # what the pass shows in its "status" field, e.g. "Active", "Suspended"
    voided: bool
    last_modified: str | None


def _status_label(pass_json: dict[str, Any]) -> str:
    style = pass_json.get("generic")
    fields: list[Any] = []
    if isinstance(style, dict):
        for group in ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields"):
            value = style.get(group)
            if isinstance(value, list):
                fields.extend(value)
    for f in fields:
        if isinstance(f, dict) and f.get("key") == "status":
            return str(f.get("value", ""))
    return ""


class Wallet:
    """One device's Wallet, persisted as files under ``state_dir``."""

    def __init__(
        self, state_dir: Path, trusted_roots: Sequence[x509.Certificate], *, client: httpx.Client
    ) -> None:
        self._dir = state_dir
        self._roots = list(trusted_roots)
        self._http = client
        meta = self._load_meta()
        self.device_library_id: str = meta.setdefault("device_library_id", secrets.token_hex(16))
        # APNs device tokens are 32 bytes, shown as 64 hex characters.
        self.push_token: str = meta.setdefault("push_token", secrets.token_hex(32))
        meta.setdefault("passes", {})
        meta.setdefault("tags", {})
        meta.setdefault("inbox_offset", 0)
        self._meta = meta
        self._save_meta()

    # --- state ---------------------------------------------------------------------------
    def _load_meta(self) -> dict[str, Any]:
        path = self._dir / "wallet.json"
        if not path.exists():
            return {}
        try:
            loaded = json.loads(path.read_text())
        except ValueError as exc:
            raise WalletError(f"{path} is not a wallet file") from exc
        if not isinstance(loaded, dict):
            raise WalletError(f"{path} is not a wallet file")
        return loaded

    def _save_meta(self) -> None:
        # Atomic and private: pass.json carries the pass's authentication token.
        write_private(self._dir / "wallet.json", json.dumps(self._meta, indent=2, sort_keys=True))

    @property
    def inbox_offset(self) -> int:
        return int(self._meta["inbox_offset"])

    @inbox_offset.setter
    def inbox_offset(self, value: int) -> None:
        self._meta["inbox_offset"] = value
        self._save_meta()

    def _verify(self, data: bytes, now: datetime) -> VerifiedPass:
        try:
            return verify_pkpass(data, trusted_roots=self._roots, now=now)
        except PkpassError as exc:
            raise WalletError(f"Wallet refused the pass: {exc}") from exc

    def passes(self) -> list[WalletPass]:
        out = []
        for serial, entry in sorted(self._meta["passes"].items()):
            pj = entry["pass_json"]
            out.append(
                WalletPass(
                    serial=serial,
                    pass_type_identifier=str(pj.get("passTypeIdentifier", "")),
                    organization=str(pj.get("organizationName", "")),
                    status=_status_label(pj),
                    voided=pj.get("voided") is True,
                    last_modified=entry.get("last_modified"),
                )
            )
        return out

    def reader_groups(self) -> dict[bytes, bytes]:
        """Aliro reader groups the passes were provisioned with: group id -> key.

        Voided copies count too: the emulated secure element keeps presenting a dead key,
        as a device whose Wallet has not caught up would, so readers must deny it.
        """
        groups: dict[bytes, bytes] = {}
        for entry in self._meta["passes"].values():
            pj = entry["pass_json"]
            info = pj.get("userInfo")
            aliro = info.get("aliro") if isinstance(info, dict) else None
            listed = aliro.get("readerGroups") if isinstance(aliro, dict) else None
            for group in listed if isinstance(listed, list) else []:
                try:
                    groups[bytes.fromhex(group["groupIdentifier"])] = bytes.fromhex(
                        group["publicKey"]
                    )
                except (TypeError, KeyError, ValueError) as exc:
                    raise WalletError("a pass carries malformed reader groups") from exc
        return groups

    def get(self, serial: str) -> WalletPass | None:
        return next((p for p in self.passes() if p.serial == serial), None)

    # --- adding and registering ------------------------------------------------------------
    def add(
        self, data: bytes, *, now: datetime | None = None, last_modified: str | None = None
    ) -> WalletPass:
        """Verify and keep a pass; register it with its web service if it has one."""
        verified = self._verify(data, now or datetime.now(UTC))
        pj = verified.pass_json
        serial = str(pj["serialNumber"])
        self._store(serial, data, pj, last_modified)
        if isinstance(pj.get("webServiceURL"), str) and isinstance(
            pj.get("authenticationToken"), str
        ):
            self._register(pj)
        found = self.get(serial)
        assert found is not None
        return found

    def _store(
        self, serial: str, data: bytes, pass_json: dict[str, Any], last_modified: str | None
    ) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        (self._dir / f"{serial}.pkpass").write_bytes(data)
        self._meta["passes"][serial] = {"pass_json": pass_json, "last_modified": last_modified}
        self._save_meta()

    @staticmethod
    def _auth(pass_json: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"ApplePass {pass_json['authenticationToken']}"}

    @staticmethod
    def _registration_url(pj: dict[str, Any], library_id: str) -> str:
        return (
            f"{pj['webServiceURL'].rstrip('/')}/v1/devices/{library_id}"
            f"/registrations/{pj['passTypeIdentifier']}/{pj['serialNumber']}"
        )

    def _register(self, pj: dict[str, Any]) -> None:
        r = self._http.post(
            self._registration_url(pj, self.device_library_id),
            json={"pushToken": self.push_token},
            headers=self._auth(pj),
        )
        if r.status_code not in (200, 201):
            raise WalletError(f"registration refused with HTTP {r.status_code}")

    # --- keeping passes current -------------------------------------------------------------
    def sync(self, *, now: datetime | None = None) -> list[str]:
        """Ask every web service for changed serials and fetch them; returns those updated."""
        now = now or datetime.now(UTC)
        updated: list[str] = []
        services = sorted(
            {
                (e["pass_json"]["webServiceURL"], e["pass_json"]["passTypeIdentifier"])
                for e in self._meta["passes"].values()
                if isinstance(e["pass_json"].get("webServiceURL"), str)
            }
        )
        for service, type_id in services:
            key = f"{service}|{type_id}"
            tag = self._meta["tags"].get(key)
            params = {"passesUpdatedSince": tag} if tag else {}
            url = (
                f"{service.rstrip('/')}/v1/devices/{self.device_library_id}/registrations/{type_id}"
            )
            r = self._http.get(url, params=params)
            if r.status_code == 204:
                continue
            if r.status_code != 200:
                raise WalletError(f"serials request answered HTTP {r.status_code}")
            body = r.json()
            changed = [str(s) for s in body.get("serialNumbers", [])]
            updated.extend(s for s in changed if self._refresh(s, now))
            self._meta["tags"][key] = str(body.get("lastUpdated", ""))
            self._save_meta()
        return updated

    def _refresh(self, serial: str, now: datetime) -> bool:
        entry = self._meta["passes"].get(serial)
        if entry is None:
            return False  # a serial this device does not hold: Wallet ignores it
        pj = entry["pass_json"]
        url = f"{pj['webServiceURL'].rstrip('/')}/v1/passes/{pj['passTypeIdentifier']}/{serial}"
        headers = self._auth(pj)
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        r = self._http.get(url, headers=headers)
        if r.status_code == 304:
            return False
        if r.status_code != 200:
            raise WalletError(f"pass fetch answered HTTP {r.status_code}")
        verified = self._verify(r.content, now)
        fresh = verified.pass_json
        # Wallet's update rules: same serial, same token, same pass type.
        for key in ("serialNumber", "authenticationToken", "passTypeIdentifier"):
            if fresh.get(key) != pj.get(key):
                raise WalletError(f"the web service sent a pass with another {key}")
        self._store(serial, r.content, fresh, r.headers.get("Last-Modified"))
        return True

    def remove(self, serial: str) -> None:
        """Delete a pass from this Wallet and unregister it from its web service."""
        entry = self._meta["passes"].pop(serial, None)
        if entry is None:
            return
        pj = entry["pass_json"]
        (self._dir / f"{serial}.pkpass").unlink(missing_ok=True)
        self._save_meta()
        if isinstance(pj.get("webServiceURL"), str):
            r = self._http.delete(
                self._registration_url(pj, self.device_library_id), headers=self._auth(pj)
            )
            if r.status_code not in (200, 401, 404):
                raise WalletError(f"unregistration answered HTTP {r.status_code}")


def pem_roots(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)
