"""Emulated iPhones and Apple Watches: identity, versions, lock state and the credential key.

Each device keeps its own P-256 credential key, created on the device (R8): only the
public half ever leaves it. The key and the persistent FAST keys the applet learns
from readers survive restarts in the device's state file (mode 0600, written
atomically), so a scenario can continue across commands.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import DeviceApplet
from passgate.proto.aliro import constants as c
from passgate.proto.snapshot import private_pem

DeviceKind = Literal["iphone", "watch"]


class DeviceError(Exception):
    """A device state file is missing, unreadable or not a device."""


@dataclass
class DeviceState:
    name: str
    kind: DeviceKind
    device_id: str
    model: str
    os_version: str
    private_key_pem: str
    app_version: str | None = None  # the Passgate app, on iPhones
    locked: bool = False  # watches: the pass is added only while unlocked (R9)
    paired_with: str | None = None  # a watch's iPhone (by name)
    app_token: str | None = None  # an iPhone's app session token (after sign-in)
    persistent_keys: dict[str, str] = field(default_factory=dict)  # reader group -> key, hex
    # The Passgate app's own credential (MotionSense, R27): a second P-256 key, separate
    # from the Apple Pass key, registered at sign-in; the reader groups the server named
    # then are its only trust anchors.
    app_key_pem: str | None = None
    app_credential_id: str | None = None
    app_reader_groups: dict[str, str] = field(default_factory=dict)  # group -> key, hex
    app_persistent_keys: dict[str, str] = field(default_factory=dict)
    bluetooth: bool = False


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file that is private (0600) from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def _p256(pem: str, path: Path, what: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), None)
    except ValueError as exc:
        raise DeviceError(f"{path}: the {what} cannot be read") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise DeviceError(f"{path}: the {what} is not a P-256 key")
    return key


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return private_pem(key).decode()


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class EmulatedDevice:
    def __init__(self, state: DeviceState, path: Path) -> None:
        self.state = state
        self._path = path
        self._key: ec.EllipticCurvePrivateKey = _p256(state.private_key_pem, path, "device key")
        self._app_key = (
            _p256(state.app_key_pem, path, "app credential key") if state.app_key_pem else None
        )

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        name: str,
        kind: DeviceKind,
        model: str,
        os_version: str,
        app_version: str | None = None,
        paired_with: str | None = None,
        locked: bool = False,
    ) -> EmulatedDevice:
        pem = _pem(ec.generate_private_key(ec.SECP256R1()))
        state = DeviceState(
            name=name,
            kind=kind,
            device_id=f"{kind}-{secrets.token_hex(8)}",
            model=model,
            os_version=os_version,
            private_key_pem=pem,
            app_version=app_version,
            paired_with=paired_with,
            locked=locked,
        )
        device = cls(state, path)
        device.save()
        return device

    @classmethod
    def load(cls, path: Path) -> EmulatedDevice:
        try:
            raw = json.loads(path.read_text())
            state = DeviceState(**raw)
        except (OSError, ValueError, TypeError) as exc:
            raise DeviceError(f"{path}: not a device state file") from exc
        return cls(state, path)

    def save(self) -> None:
        write_private(self._path, json.dumps(asdict(self.state), indent=2, sort_keys=True))

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def public_key(self) -> bytes:
        return _point(self._key)

    @property
    def key_id(self) -> str:
        """How readers and the server name this key: SHA-256 of the public point, hex."""
        return hashlib.sha256(self.public_key).hexdigest()

    def rotate_key(self) -> None:
        """A new credential key (after a pass was deleted, R7); the old one is gone for good."""
        key = ec.generate_private_key(ec.SECP256R1())
        self.state.private_key_pem = _pem(key)
        self.state.persistent_keys = {}
        self._key = key
        self.save()

    def applet(
        self, reader_groups: Mapping[bytes, bytes], *, interface: int = c.INTERFACE_NFC
    ) -> DeviceApplet:
        """The secure-element applet for one tap; FAST keys it learns are kept.

        ``reader_groups`` are the trust anchors the credential was provisioned with (from
        the Wallet's live passes): the only reader keys this device will ever accept.
        """
        return DeviceApplet(
            self._key,
            reader_groups=reader_groups,
            persistent_keys=_PersistentKeys(self, self.state.persistent_keys),
            interface=interface,
        )

    # --- the Passgate app's own credential (MotionSense) --------------------------------

    def new_app_key(self) -> ec.EllipticCurvePrivateKey:
        """A fresh app credential key (not saved until :meth:`set_app_credential`)."""
        return ec.generate_private_key(ec.SECP256R1())

    def set_app_credential(
        self,
        key: ec.EllipticCurvePrivateKey,
        credential_id: str,
        reader_groups: Mapping[str, str],
    ) -> None:
        """Keep the registered app credential (key, id, trust anchors); Bluetooth on."""
        self._app_key = key
        self.state.app_key_pem = _pem(key)
        self.state.app_credential_id = credential_id
        self.state.app_reader_groups = dict(reader_groups)
        self.state.app_persistent_keys = {}
        self.state.bluetooth = True
        self.save()

    def forget_app_credential(self) -> None:
        """The app signed out: its key is gone for good."""
        self._app_key = None
        self.state.app_key_pem = self.state.app_credential_id = None
        self.state.app_reader_groups = {}
        self.state.app_persistent_keys = {}
        self.state.app_token = None
        self.save()

    @property
    def app_public_key(self) -> bytes | None:
        return _point(self._app_key) if self._app_key is not None else None

    def app_applet(self) -> DeviceApplet | None:
        """The app credential's Aliro applet over Bluetooth LE (interface C3), if any."""
        if self._app_key is None:
            return None
        groups = {
            bytes.fromhex(g): bytes.fromhex(k) for g, k in self.state.app_reader_groups.items()
        }
        return DeviceApplet(
            self._app_key,
            reader_groups=groups,
            persistent_keys=_PersistentKeys(self, self.state.app_persistent_keys),
            interface=c.INTERFACE_BLE,
        )


class _PersistentKeys(dict[bytes, bytes]):
    """An applet's reader-group -> persistent-key map, written through to the state file."""

    def __init__(self, device: EmulatedDevice, stored: dict[str, str]) -> None:
        super().__init__({bytes.fromhex(k): bytes.fromhex(v) for k, v in stored.items()})
        self._device = device
        self._stored = stored

    def __setitem__(self, key: bytes, value: bytes) -> None:
        super().__setitem__(key, value)
        self._stored[key.hex()] = value.hex()
        self._device.save()
