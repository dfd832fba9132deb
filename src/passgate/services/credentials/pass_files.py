"""The signed .pkpass of each Wallet copy: signed once per version, stored with it.

What a pass shows (status, member name, the reader groups in userInfo, ...) changes only
through a new version of its serial (``pass_effects.new_versions``, a new binding). The
unit of work that made the version signs its file just before it commits
(``sign_changed``), so the version and its bytes are written together or not at all,
and the PassKit GET serves the stored bytes without signing.

A stored file is served only while it is the serial's current version *and* was signed
with the current setup (certificate, WWDR intermediate, pass type, team, web service
URL, images and layout: ``signed_with``). Anything else (a row from before this table
existed, a renewed certificate) is signed again on the next GET and stored then.

Files are sealed with AES-256-GCM under a key derived from the server secret, bound to
their serial, version and setup (the associated data): pass.json carries the serial's
ApplePass token, which must not be readable from the database, and a row copied onto
another serial or version does not open.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passgate.domain import model as m
from passgate.domain.pass_records import WalletPassFile, WalletSerial
from passgate.services.credentials.aliro_groups import trusted_groups
from passgate.services.credentials.wallet import WalletConfig, pass_content, render_pkpass
from passgate.services.ports import UnitOfWork

_NONCE = 12


def _aad(serial: str, version: datetime, signed_with: str) -> bytes:
    stamp = int(version.replace(microsecond=0).timestamp())
    return f"passgate/pass-file\0{serial}\0{stamp}\0{signed_with}".encode()


def _aead(cfg: WalletConfig) -> AESGCM:
    return AESGCM(cfg.file_key)


def sealed_file(cfg: WalletConfig, serial: WalletSerial, body: bytes) -> WalletPassFile:
    """The row that stores ``body`` as ``serial``'s current version."""
    nonce = os.urandom(_NONCE)
    aad = _aad(serial.id, serial.updated_at, cfg.signed_with)
    return WalletPassFile(
        id=serial.id,
        org_id=serial.org_id,
        version=serial.updated_at.replace(microsecond=0),
        signed_with=cfg.signed_with,
        sealed=nonce + _aead(cfg).encrypt(nonce, body, aad),
    )


def open_current(
    cfg: WalletConfig,
    serial: str,
    current_version: datetime,
    version: datetime | None,
    signed_with: str | None,
    sealed: bytes | None,
) -> bytes | None:
    """The stored bytes when they are ``current_version``'s under this setup, else None."""
    if version is None or signed_with is None or sealed is None:
        return None
    current = current_version.replace(microsecond=0)
    if version.replace(microsecond=0) != current or signed_with != cfg.signed_with:
        return None
    try:
        return _aead(cfg).decrypt(
            sealed[:_NONCE], sealed[_NONCE:], _aad(serial, current, signed_with)
        )
    except (InvalidTag, ValueError):
        return None  # not ours (another server secret) or damaged: sign it again


class _Renderer:
    """Signs serials of one organization in one transaction, reading shared rows once."""

    def __init__(self, uow: UnitOfWork, cfg: WalletConfig) -> None:
        self._uow, self._cfg = uow, cfg
        self._org: m.Organization | None = None
        self._groups: tuple[tuple[str, str], ...] | None = None
        self._members: dict[str, m.Member] = {}

    def render(self, serial: WalletSerial) -> bytes:
        uow = self._uow
        if self._org is None:
            self._org = uow.organizations.get(serial.org_id)
            self._groups = trusted_groups(uow)
        apple_pass = uow.repo(m.ApplePass).get(serial.pass_id)
        device = uow.repo(m.PassDevice).get(serial.device_row_id)
        member = self._members.get(apple_pass.member_id)
        if member is None:
            member = uow.repo(m.Member).get(apple_pass.member_id)
            self._members[member.id] = member
        content = pass_content(
            self._cfg, self._org, member, apple_pass, device, serial, self._groups or ()
        )
        version = serial.updated_at.replace(microsecond=0)
        return render_pkpass(self._cfg, content, version)


def store(uow: UnitOfWork, cfg: WalletConfig, serials: Iterable[WalletSerial]) -> dict[str, bytes]:
    """Sign the current version of each serial and store it; serial -> the signed bytes."""
    files = uow.repo(WalletPassFile)
    renderer = _Renderer(uow, cfg)
    signed: dict[str, bytes] = {}
    for serial in serials:
        body = renderer.render(serial)
        row = sealed_file(cfg, serial, body)
        if files.find(serial.id) is None:
            files.add(row)
        else:
            files.update(row)
        signed[serial.id] = body
    return signed


def sign_changed(uow: UnitOfWork, cfg: WalletConfig) -> None:
    """The unit of work's last step before it commits: sign every new version it made."""
    pending = sorted(uow.changed_serials)
    uow.changed_serials.clear()
    if pending:
        repo = uow.repo(WalletSerial)
        store(uow, cfg, [repo.get(serial) for serial in pending])


def current_files(
    uow: UnitOfWork, cfg: WalletConfig, serials: Iterable[WalletSerial]
) -> dict[str, bytes]:
    """serial -> the signed bytes of its current version: the stored file when it is
    current, otherwise signed now and stored (also taken off the commit step's list)."""
    found: dict[str, bytes] = {}
    stale: list[WalletSerial] = []
    files = uow.repo(WalletPassFile)
    for serial in serials:
        row = files.find(serial.id)
        body = (
            None
            if row is None or serial.id in uow.changed_serials
            else open_current(
                cfg, serial.id, serial.updated_at, row.version, row.signed_with, row.sealed
            )
        )
        if body is None:
            stale.append(serial)
        else:
            found[serial.id] = body
    found.update(store(uow, cfg, stale))
    uow.changed_serials.difference_update(s.id for s in stale)
    return found
