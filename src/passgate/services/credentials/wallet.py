"""What goes into a member's Wallet: pass content, the signed .pkpass, its token and serial.

The authenticationToken is HMAC-SHA256(server key, serial): the same in every version
of a pass (Wallet requires it never changes), different for every serial, and never
stored, so there is nothing to leak from the database; checking one recomputes it and
compares in constant time.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from hashlib import sha256

from cryptography.hazmat.primitives.serialization import Encoding

from passgate.domain import model as m
from passgate.domain.pass_records import WalletSerial
from passgate.domain.passes import wallet_status
from passgate.proto.passkit import (
    PassContent,
    PassSigner,
    build_pass_json,
    build_pkpass,
    default_images,
)

SERIAL_PREFIX = "ws-"
APNS_TOPIC = "apns"
# Raise when pass.json or the images change shape, so stored files are signed again.
PASS_LAYOUT = 1


@dataclass(frozen=True)
class WalletConfig:
    signer: PassSigner
    pass_type_identifier: str
    team_identifier: str
    web_service_url: str
    auth_key: bytes = dataclasses.field(repr=False)

    @cached_property
    def signed_with(self) -> str:
        """What a stored .pkpass depends on besides the pass: when it differs from a
        stored file's, that file is signed again (a renewed certificate, another URL)."""
        h = sha256(f"passgate/pass-setup\0{PASS_LAYOUT}".encode())
        for cert in (self.signer.pass_certificate, self.signer.wwdr_certificate):
            h.update(sha256(cert.public_bytes(Encoding.DER)).digest())
        for text in (self.pass_type_identifier, self.team_identifier, self.web_service_url):
            h.update(sha256(text.encode()).digest())
        for name, data in sorted(default_images().items()):
            h.update(sha256(name.encode() + b"\0" + data).digest())
        # The tokens inside pass.json follow the server secret; no secret leaves here.
        h.update(hmac.new(self.auth_key, b"passkit-setup", sha256).digest())
        return h.hexdigest()[:40]

    @cached_property
    def file_key(self) -> bytes:
        """The AES-256-GCM key that seals stored .pkpass files (they carry tokens)."""
        return hmac.new(self.auth_key, b"passkit-stored-files v1", sha256).digest()


def new_serial() -> str:
    return SERIAL_PREFIX + secrets.token_hex(16)


def authentication_token(cfg: WalletConfig, serial: str) -> str:
    return hmac.new(cfg.auth_key, b"passkit-token:" + serial.encode(), sha256).hexdigest()


def token_matches(cfg: WalletConfig, serial: str, given: str) -> bool:
    expected = authentication_token(cfg, serial)
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def next_pass_version(previous: datetime | None, now: datetime) -> datetime:
    """A whole-second version stamp strictly after ``previous``.

    HTTP dates have one-second resolution; two versions in the same second would make
    If-Modified-Since answer 304 for a pass that did change. Bumping to the next free
    second keeps every version distinguishable (it may run a second or two ahead of the
    clock after a burst of changes, which is harmless).
    """
    stamp = now.replace(microsecond=0)
    if previous is not None and stamp <= previous.replace(microsecond=0):
        stamp = previous.replace(microsecond=0) + timedelta(seconds=1)
    return stamp


def pass_content(
    cfg: WalletConfig,
    org: m.Organization,
    member: m.Member,
    apple_pass: m.ApplePass,
    device: m.PassDevice,
    serial: WalletSerial,
    reader_groups: tuple[tuple[str, str], ...] = (),
) -> PassContent:
    return PassContent(
        pass_type_identifier=cfg.pass_type_identifier,
        team_identifier=cfg.team_identifier,
        serial_number=serial.id,
        organization_name=org.name,
        description=f"Door key for {org.name}",
        member_name=member.display_name,
        status=wallet_status(apple_pass.status, device.status),
        web_service_url=cfg.web_service_url,
        authentication_token=authentication_token(cfg, serial.id),
        sharing_prohibited=True,
        reader_groups=reader_groups,
    )


def render_pkpass(cfg: WalletConfig, content: PassContent, signing_time: datetime) -> bytes:
    """The signed .pkpass; signed at the version's time, so one version = same bytes."""
    files = {**default_images(), "pass.json": build_pass_json(content)}
    return build_pkpass(files, cfg.signer, signing_time=signing_time)
