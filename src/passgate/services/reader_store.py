"""Reader links (pairing, keys, tamper sequence), reader keys and Aliro reader groups.

Entities and the one unscoped port the gateway needs: before a reader has proved who it
is, the server knows only a pairing code or a reader id, not the organization, so a
directory answers "which organization owns this?" and everything else then runs in a
unit of work scoped to that organization.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass
class ReaderLink:
    """The server's side of a paired (or pairing) reader agent; id = the reader's id."""

    id: str
    org_id: str
    created_at: datetime
    public_key: str | None = None  # the agent's P-256 key (PEM); None = not paired
    pairing_code_hash: str | None = None  # SHA-256 hex of the one-time code
    pairing_expires_at: datetime | None = None
    paired_at: datetime | None = None
    tamper_seq: int = 0  # sequence of the last tamper event the server stored
    aliro_public_key: str | None = None  # the reader's own Aliro key (hex point)
    certificate: str | None = None  # its compressed reader certificate (hex)
    certificate_group: str | None = None  # the group identifier that issued it


@dataclass
class ReaderOrgKey:
    """An organization's snapshot-signing key (sealed)."""

    id: str
    org_id: str
    signing_key_sealed: str
    public_key: str  # PEM, handed to readers at pairing
    created_at: datetime


@dataclass
class AliroReaderGroup:
    """An Aliro reader group: its identifier and issuer key (see services/aliro_groups)."""

    id: str
    org_id: str
    group_identifier: str  # 16 bytes, hex
    issuer_key_sealed: str
    public_key: str  # hex of the 65-byte point devices trust
    state: str  # next | current | previous | retired
    created_at: datetime


class ReaderDirectory(Protocol):
    def org_of_pairing_code(self, code_hash: str) -> str | None: ...

    def org_of_reader(self, reader_id: str) -> str | None: ...
