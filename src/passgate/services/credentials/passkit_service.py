"""The PassKit web service (PROTOCOLS.md section 3): how Wallet keeps passes current.

Every call that names a serial must carry ``Authorization: ApplePass <token>`` with
that serial's token; the token is recomputed from the serial and compared in constant
time before the database is even read, so a token for one serial never opens another.
A deleted, suspended or replaced copy is still served: voided or marked, so the
device shows why it stopped working. GET serves the file signed when the version was
made (``pass_files``); it signs only when no current file is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from passgate.domain import model as m
from passgate.domain.errors import NotFound, Unauthenticated, ValidationError
from passgate.domain.pass_records import WalletLog, WalletRegistration, WalletSerial
from passgate.proto.apns import is_valid_push_token
from passgate.services.credentials.pass_files import current_files, open_current
from passgate.services.credentials.wallet import WalletConfig, token_matches
from passgate.services.ports import Clock, UnitOfWorkFactory, WalletDirectory

_DEVICE_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_SERIAL_RE = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
_SERIAL_IN_TEXT = re.compile(r"ws-[0-9a-f]{32}")
MAX_LOG_LINES = 100
MAX_LOG_LINE = 2000
# Wallet logs come in without credentials, so what one caller can make us store is
# bounded: the newest lines per pass, and as many of the lines naming no pass of ours.
KEEP_LOGS = 200


@dataclass(frozen=True)
class LatestPass:
    body: bytes
    last_modified: datetime


def parse_authorization(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme != "ApplePass" or not token.strip():
        raise Unauthenticated("an ApplePass authorization is required")
    return token.strip()


class PasskitService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        directory: WalletDirectory,
        cfg: WalletConfig,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._dir = directory
        self._cfg = cfg
        self._clock = clock

    def _check_names(self, pass_type_id: str, serial: str) -> None:
        if pass_type_id != self._cfg.pass_type_identifier or not _SERIAL_RE.fullmatch(serial):
            raise NotFound("no such pass")

    def _authorize(self, serial: str, authorization: str | None) -> str:
        """The serial's organization, when the caller holds the serial's token."""
        token = parse_authorization(authorization)
        if not token_matches(self._cfg, serial, token):
            raise Unauthenticated("the ApplePass token does not match this pass")
        org_id = self._dir.org_of_serial(serial)
        if org_id is None:
            raise Unauthenticated("the ApplePass token does not match this pass")
        return org_id

    def register(
        self,
        device_library_id: str,
        pass_type_id: str,
        serial: str,
        authorization: str | None,
        push_token: object,
    ) -> bool:
        """True when the registration is new (201), False when it was updated (200)."""
        self._check_names(pass_type_id, serial)
        org_id = self._authorize(serial, authorization)
        if not _DEVICE_RE.fullmatch(device_library_id):
            raise ValidationError("bad device library identifier", field="deviceLibraryIdentifier")
        if not isinstance(push_token, str) or not is_valid_push_token(push_token):
            raise ValidationError("pushToken must be 64 to 200 hex characters", field="pushToken")
        now = self._clock.now()
        with self._uow(org_id) as uow:
            repo = uow.repo(WalletRegistration)
            found = repo.all_where(device_library_id=device_library_id, serial=serial)
            if found:
                reg = found[0]
                reg.push_token, reg.updated_at = push_token.lower(), now
                repo.update(reg)
                return False
            repo.add(
                WalletRegistration(
                    id=m.new_id("wrg"),
                    org_id=org_id,
                    device_library_id=device_library_id,
                    pass_type_id=pass_type_id,
                    serial=serial,
                    push_token=push_token.lower(),
                    created_at=now,
                    updated_at=now,
                )
            )
            return True

    def unregister(
        self, device_library_id: str, pass_type_id: str, serial: str, authorization: str | None
    ) -> None:
        self._check_names(pass_type_id, serial)
        org_id = self._authorize(serial, authorization)
        with self._uow(org_id) as uow:
            uow.repo(WalletRegistration).delete_where(
                device_library_id=device_library_id, serial=serial
            )

    def updated_since(
        self, device_library_id: str, pass_type_id: str, tag: str | None
    ) -> tuple[list[str], str] | None:
        """Serials of this device changed after ``tag``, and the new tag; None: nothing."""
        if pass_type_id != self._cfg.pass_type_identifier:
            return None
        if not _DEVICE_RE.fullmatch(device_library_id):
            raise ValidationError("bad device library identifier", field="deviceLibraryIdentifier")
        since = None
        if tag:
            if not tag.isdigit() or len(tag) > 12:
                raise ValidationError("passesUpdatedSince is not a tag we issued", field="tag")
            since = datetime.fromtimestamp(int(tag), UTC)
        found = self._dir.updated_serials(device_library_id, pass_type_id, since)
        if not found:
            return None
        latest = max(stamp for _, stamp in found)
        return sorted(serial for serial, _ in found), str(int(latest.timestamp()))

    def latest_pass(
        self,
        pass_type_id: str,
        serial: str,
        authorization: str | None,
        if_modified_since: datetime | None,
    ) -> LatestPass | None:
        """The current version, or None when it is not newer than ``if_modified_since``.

        Served from the file stored with the version (signed when the version was made);
        a 304 reads the version stamp only, never the file.
        """
        self._check_names(pass_type_id, serial)
        token = parse_authorization(authorization)
        if not token_matches(self._cfg, serial, token):
            raise Unauthenticated("the ApplePass token does not match this pass")
        if if_modified_since is not None:
            version = self._dir.version_of(serial)
            if version is None:
                raise Unauthenticated("the ApplePass token does not match this pass")
            if version[1].replace(microsecond=0) <= if_modified_since:
                return None
        stored = self._dir.stored_pass(serial)
        if stored is None:
            raise Unauthenticated("the ApplePass token does not match this pass")
        modified = stored.updated_at.replace(microsecond=0)
        body = open_current(
            self._cfg, serial, modified, stored.version, stored.signed_with, stored.sealed
        )
        if body is not None:
            return LatestPass(body, modified)
        return self._sign_now(stored.org_id, serial)

    def _sign_now(self, org_id: str, serial: str) -> LatestPass:
        """No current file (a version from before files were stored, a new certificate):
        sign the current version and store it, under the serial's lock."""
        with self._uow(org_id) as uow:
            wallet_serial = uow.repo(WalletSerial).get(serial)
            body = current_files(uow, self._cfg, [wallet_serial])[serial]
        return LatestPass(body, wallet_serial.updated_at.replace(microsecond=0))

    def log(self, lines: object) -> int:
        """Keep Wallet's log lines; a line naming one of our serials goes to its pass."""
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise ValidationError("logs must be a list of strings", field="logs")
        kept = [line[:MAX_LOG_LINE] for line in lines[:MAX_LOG_LINES]]
        mentioned = {s for line in kept for s in _SERIAL_IN_TEXT.findall(line)}
        owners = self._dir.owners_of(mentioned)
        now = self._clock.now()
        records = []
        for line in kept:
            serial = next((s for s in _SERIAL_IN_TEXT.findall(line) if s in owners), None)
            org_id, pass_id = owners[serial] if serial else (None, None)
            records.append(
                WalletLog(
                    id=m.new_id("wlg"),
                    org_id=org_id,
                    pass_id=pass_id,
                    serial=serial,
                    message=line,
                    created_at=now,
                )
            )
        self._dir.add_logs(records, keep=KEEP_LOGS)
        return len(records)
