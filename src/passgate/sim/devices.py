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


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file that is private (0600) from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


class EmulatedDevice:
    def __init__(self, state: DeviceState, path: Path) -> None:
        self.state = state
        self._path = path
        try:
            key = serialization.load_pem_private_key(state.private_key_pem.encode(), None)
        except ValueError as exc:
            raise DeviceError(f"{path}: the device key cannot be read") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise DeviceError(f"{path}: the device key is not a P-256 key")
        self._key: ec.EllipticCurvePrivateKey = key

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
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
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
        return self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def key_id(self) -> str:
        """How readers and the server name this key: SHA-256 of the public point, hex."""
        return hashlib.sha256(self.public_key).hexdigest()

    def rotate_key(self) -> None:
        """A new credential key (after a pass was deleted, R7); the old one is gone for good."""
        key = ec.generate_private_key(ec.SECP256R1())
        self.state.private_key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.state.persistent_keys = {}
        self._key = key
        self.save()

    def applet(self, reader_groups: Mapping[bytes, bytes]) -> DeviceApplet:
        """The secure-element applet for one tap; FAST keys it learns are kept.

        ``reader_groups`` are the trust anchors the credential was provisioned with (from
        the Wallet's live passes): the only reader keys this device will ever accept.
        """
        return DeviceApplet(
            self._key, reader_groups=reader_groups, persistent_keys=_PersistentKeys(self)
        )


class _PersistentKeys(dict[bytes, bytes]):
    """The applet's reader-group -> persistent-key map, written through to the state file."""

    def __init__(self, device: EmulatedDevice) -> None:
        super().__init__(
            {bytes.fromhex(k): bytes.fromhex(v) for k, v in device.state.persistent_keys.items()}
        )
        self._device = device

    def __setitem__(self, key: bytes, value: bytes) -> None:
        super().__setitem__(key, value)
        self._device.state.persistent_keys[key.hex()] = value.hex()
        self._device.save()
