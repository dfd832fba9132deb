"""Stored records of the Wallet side of Apple Passes (beyond ApplePass and PassDevice).

Every bound device gets its own Wallet serial (``WalletSerial``). A replaced iPhone's
Wallet keeps asking for the serial it was given; with one serial per device, the
server can answer that copy as voided ("replaced") while the new iPhone's copy, under
its own serial, stays valid. A registration says which Wallet (device library id)
wants pushes for which serial; logs are the lines Wallet posts to /v1/log. The signed
file of each serial's current version is stored next to it (``WalletPassFile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class WalletSerial:
    """The Wallet copy on one device: ``id`` is the pass serial number."""

    id: str
    org_id: str
    pass_id: str
    device_row_id: str  # pass_devices.id
    kind: str
    created_at: datetime
    # Whole seconds, strictly increasing per serial: Last-Modified and the
    # "updated since" tag are both derived from it, so no two versions share one.
    updated_at: datetime


@dataclass
class WalletPassFile:
    """The signed .pkpass of one Wallet copy's current version, signed once per change.

    ``id`` is the serial. ``version`` is the serial's ``updated_at`` it was signed for and
    ``signed_with`` the signing setup (``services.credentials.pass_files``); a row whose version or
    setup is not the current one is never served. ``sealed`` is the file encrypted with
    a key derived from the server secret: pass.json carries the ApplePass token, which
    must not be readable from the database.
    """

    id: str
    org_id: str
    version: datetime
    signed_with: str
    sealed: bytes


@dataclass
class WalletRegistration:
    id: str
    org_id: str
    device_library_id: str
    pass_type_id: str
    serial: str
    push_token: str
    created_at: datetime
    updated_at: datetime


@dataclass
class WalletLog:
    id: str
    org_id: str | None
    pass_id: str | None
    serial: str | None
    message: str
    created_at: datetime
