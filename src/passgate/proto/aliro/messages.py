"""Typed Aliro 1.0 messages: the BER-TLV bodies of SELECT, AUTH0, AUTH1, EXCHANGE and
CONTROL FLOW, each with ``encode`` and a strict ``parse``.

``parse`` checks presence and exact length of every field the protocol defines and raises
:class:`AliroError` (naming the tag) for a missing, duplicated or wrongly sized one. Tags
the protocol does not define are ignored, as the certification test plan requires of both
sides (the NFC_*_EXTRA_TAG cases); they feed nothing. Vendor extensions have their own
tags (B1 in AUTH0, B2 in its answer) and are kept because they feed the key derivation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from passgate.proto.aliro import constants as c
from passgate.proto.aliro.errors import AliroError
from passgate.proto.tlv import Tlv, TlvError, decode_all, encode_many, encode_tlv, unique_map


def _fields(data: bytes, known: frozenset[int]) -> Mapping[int, bytes]:
    """The message's defined tags (unknown ones dropped); duplicates are refused."""
    try:
        fields = unique_map(decode_all(data))
    except TlvError as exc:
        raise AliroError(f"malformed TLV: {exc.message}", field="data") from exc
    return {tag: value for tag, value in fields.items() if tag in known}


def _required(fields: Mapping[int, bytes], tag: int, length: int | None = None) -> bytes:
    value = fields.get(tag)
    if value is None:
        raise AliroError(f"missing tag {tag:X}", field=f"{tag:X}")
    if length is not None and len(value) != length:
        raise AliroError(f"tag {tag:X} must be {length} bytes", field=f"{tag:X}")
    return value


def _byte(fields: Mapping[int, bytes], tag: int) -> int:
    return _required(fields, tag, 1)[0]


def _optional(fields: Mapping[int, bytes], tag: int, length: int | None = None) -> bytes | None:
    if tag not in fields:
        return None
    return _required(fields, tag, length)


def optional_tlv(tag: int, value: bytes | None) -> bytes:
    return b"" if value is None else encode_tlv(tag, value)


# --- SELECT -----------------------------------------------------------------------------


def _size(raw: bytes) -> int:
    """A 7F66 size: an unsigned big-endian INTEGER value of one to three bytes, not zero."""
    value = int.from_bytes(raw, "big")
    if not 1 <= len(raw) <= 3 or value == 0:
        raise AliroError("7F66 sizes must be non-zero INTEGERs", field="7F66")
    return value


@dataclass(frozen=True)
class Fci:
    versions: tuple[int, ...]
    medium: bytes | None
    max_command: int | None  # from 7F66; None: short APDUs only
    max_response: int | None
    proprietary: bytes  # the whole A5 TLV as received; it feeds the key derivation


def build_fci(
    versions: Sequence[int] = c.SUPPORTED_VERSIONS,
    extended_length: tuple[int, int] | None = None,
    medium: bytes = c.MEDIUM_MOBILE,
) -> bytes:
    """The SELECT answer: ``6F { 84 AID, A5 { 80 medium, 5C versions [, 7F66 sizes] } }``."""
    inner = encode_tlv(c.TAG_MEDIUM_TYPE, medium)
    inner += encode_tlv(c.TAG_VERSIONS, b"".join(v.to_bytes(2, "big") for v in versions))
    if extended_length is not None:
        # Two 2-byte INTEGERs, as devices send them: 7F66 08 02 02 <command> 02 02 <response>.
        if not all(1 <= n <= 0xFFFF for n in extended_length):
            raise AliroError("7F66 sizes must be 1 to 65535", field="7F66")
        sizes = b"".join(encode_tlv(c.TAG_INTEGER, n.to_bytes(2, "big")) for n in extended_length)
        inner += encode_tlv(c.TAG_EXTENDED_LENGTH, sizes)
    body = encode_tlv(c.TAG_DF_NAME, c.AID_PRIMARY) + encode_tlv(c.TAG_FCI_PROPRIETARY, inner)
    return encode_tlv(c.TAG_FCI, body)


def parse_fci(data: bytes) -> Fci:
    try:
        items = decode_all(data)
        if len(items) != 1 or items[0].tag != c.TAG_FCI:
            raise AliroError("SELECT answer is not one FCI template", field="6F")
        template = unique_map(items[0].children())
        if template.get(c.TAG_DF_NAME) != c.AID_PRIMARY:
            raise AliroError("FCI does not name the Aliro expedited AID", field="84")
        prop_raw = _required(template, c.TAG_FCI_PROPRIETARY)
        prop = unique_map(Tlv(c.TAG_FCI_PROPRIETARY, prop_raw).children())
        raw_versions = _required(prop, c.TAG_VERSIONS)
        if not raw_versions or len(raw_versions) % 2:
            raise AliroError("version list must be 2-byte values", field="5C")
        versions = tuple(
            int.from_bytes(raw_versions[i : i + 2], "big") for i in range(0, len(raw_versions), 2)
        )
        max_command = max_response = None
        if c.TAG_EXTENDED_LENGTH in prop:
            sizes = Tlv(c.TAG_EXTENDED_LENGTH, prop[c.TAG_EXTENDED_LENGTH]).children()
            if len(sizes) != 2 or any(s.tag != c.TAG_INTEGER for s in sizes):
                raise AliroError("7F66 must hold two INTEGERs", field="7F66")
            max_command, max_response = _size(sizes[0].value), _size(sizes[1].value)
    except TlvError as exc:
        raise AliroError(f"malformed FCI: {exc.message}", field="6F") from exc
    proprietary = encode_tlv(c.TAG_FCI_PROPRIETARY, prop_raw)
    return Fci(versions, prop.get(c.TAG_MEDIUM_TYPE), max_command, max_response, proprietary)


# --- AUTH0 ------------------------------------------------------------------------------

_AUTH0_TAGS = frozenset(
    (
        c.TAG_FLAGS,
        c.TAG_AUTH_POLICY,
        c.TAG_VERSIONS,
        c.TAG_READER_EPHEMERAL_KEY,
        c.TAG_TRANSACTION_ID,
        c.TAG_READER_ID,
        c.TAG_READER_EXTENSION,
    )
)


@dataclass(frozen=True)
class Auth0Command:
    flags: int
    policy: int
    version: int
    reader_ephemeral: bytes
    transaction_id: bytes
    reader_id: bytes
    extension: bytes | None = None  # B1 value

    def encode(self) -> bytes:
        return encode_many(
            (
                (c.TAG_FLAGS, bytes([self.flags])),
                (c.TAG_AUTH_POLICY, bytes([self.policy])),
                (c.TAG_VERSIONS, self.version.to_bytes(2, "big")),
                (c.TAG_READER_EPHEMERAL_KEY, self.reader_ephemeral),
                (c.TAG_TRANSACTION_ID, self.transaction_id),
                (c.TAG_READER_ID, self.reader_id),
            )
        ) + optional_tlv(c.TAG_READER_EXTENSION, self.extension)

    @classmethod
    def parse(cls, data: bytes) -> Auth0Command:
        f = _fields(data, _AUTH0_TAGS)
        flags = _byte(f, c.TAG_FLAGS)
        if flags not in (c.FLAGS_STANDARD, c.FLAGS_FAST):
            raise AliroError("transaction flags must be 00 or 01", field="41")
        policy = _byte(f, c.TAG_AUTH_POLICY)
        if policy not in c.AUTH_POLICIES:
            raise AliroError("authentication policy must be 01, 02 or 03", field="42")
        return cls(
            flags=flags,
            policy=policy,
            version=int.from_bytes(_required(f, c.TAG_VERSIONS, 2), "big"),
            reader_ephemeral=_required(f, c.TAG_READER_EPHEMERAL_KEY, c.PUBLIC_KEY_LEN),
            transaction_id=_required(f, c.TAG_TRANSACTION_ID, c.TRANSACTION_ID_LEN),
            reader_id=_required(f, c.TAG_READER_ID, c.READER_ID_LEN),
            extension=_optional(f, c.TAG_READER_EXTENSION),
        )


_AUTH0_RESPONSE_TAGS = frozenset(
    (c.TAG_DEVICE_EPHEMERAL_KEY, c.TAG_CRYPTOGRAM, c.TAG_DEVICE_EXTENSION)
)


@dataclass(frozen=True)
class Auth0Response:
    device_ephemeral: bytes
    cryptogram: bytes | None
    extension: bytes | None = None  # B2 value

    def encode(self) -> bytes:
        out = encode_tlv(c.TAG_DEVICE_EPHEMERAL_KEY, self.device_ephemeral)
        out += optional_tlv(c.TAG_CRYPTOGRAM, self.cryptogram)
        return out + optional_tlv(c.TAG_DEVICE_EXTENSION, self.extension)

    @classmethod
    def parse(cls, data: bytes) -> Auth0Response:
        f = _fields(data, _AUTH0_RESPONSE_TAGS)
        return cls(
            device_ephemeral=_required(f, c.TAG_DEVICE_EPHEMERAL_KEY, c.PUBLIC_KEY_LEN),
            cryptogram=_optional(f, c.TAG_CRYPTOGRAM, c.CRYPTOGRAM_LEN),
            extension=_optional(f, c.TAG_DEVICE_EXTENSION),
        )


class CredentialStatus(NamedTuple):
    """The plaintext of the FAST cryptogram and the tail of the AUTH1 answer (a tuple: it
    is made on every tap)."""

    signaling: bytes  # 5E, 2 bytes
    issued_at: bytes | None = None  # 91, 20 bytes (all zero: unset)
    expires_at: bytes | None = None  # 92, 20 bytes

    def encode(self) -> bytes:
        return (
            encode_tlv(c.TAG_SIGNALING, self.signaling)
            + optional_tlv(c.TAG_ISSUED_AT, self.issued_at)
            + optional_tlv(c.TAG_EXPIRES_AT, self.expires_at)
        )

    def encode_cryptogram_plaintext(self) -> bytes:
        """5E(2) 91(20) 92(20): dates always present, zero when unset (fixed 48 bytes)."""
        return (
            encode_tlv(c.TAG_SIGNALING, self.signaling)
            + encode_tlv(c.TAG_ISSUED_AT, self.issued_at or bytes(c.DATE_LEN))
            + encode_tlv(c.TAG_EXPIRES_AT, self.expires_at or bytes(c.DATE_LEN))
        )

    @classmethod
    def parse_cryptogram_plaintext(cls, data: bytes) -> CredentialStatus:
        f = _fields(data, frozenset((c.TAG_SIGNALING, c.TAG_ISSUED_AT, c.TAG_EXPIRES_AT)))
        return cls(
            _required(f, c.TAG_SIGNALING, 2),
            _required(f, c.TAG_ISSUED_AT, c.DATE_LEN),
            _required(f, c.TAG_EXPIRES_AT, c.DATE_LEN),
        )


# --- AUTH1 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Auth1Command:
    params: int  # 00: answer with the key slot (4E), 01: with the public key (5A)
    signature: bytes
    certificate: bytes | None = None  # 90: compressed reader certificate

    def encode(self) -> bytes:
        out = encode_tlv(c.TAG_FLAGS, bytes([self.params]))
        out += encode_tlv(c.TAG_SIGNATURE, self.signature)
        return out + optional_tlv(c.TAG_READER_CERTIFICATE, self.certificate)

    @classmethod
    def parse(cls, data: bytes) -> Auth1Command:
        f = _fields(data, frozenset((c.TAG_FLAGS, c.TAG_SIGNATURE, c.TAG_READER_CERTIFICATE)))
        params = _byte(f, c.TAG_FLAGS)
        if params not in (c.AUTH1_RETURN_KEY_SLOT, c.AUTH1_RETURN_PUBLIC_KEY):
            raise AliroError("AUTH1 command parameters must be 00 or 01", field="41")
        return cls(
            params=params,
            signature=_required(f, c.TAG_SIGNATURE, c.SIGNATURE_LEN),
            certificate=_optional(f, c.TAG_READER_CERTIFICATE),
        )


_AUTH1_RESPONSE_TAGS = frozenset(
    (
        c.TAG_CREDENTIAL_PUBLIC_KEY,
        c.TAG_KEY_SLOT,
        c.TAG_SIGNATURE,
        c.TAG_SIGNALING,
        c.TAG_ISSUED_AT,
        c.TAG_EXPIRES_AT,
    )
)


@dataclass(frozen=True)
class Auth1Response:
    """The decrypted body of the AUTH1 answer."""

    signature: bytes
    status: CredentialStatus
    public_key: bytes | None = None
    key_slot: bytes | None = None

    def encode(self) -> bytes:
        out = optional_tlv(c.TAG_CREDENTIAL_PUBLIC_KEY, self.public_key)
        out += optional_tlv(c.TAG_KEY_SLOT, self.key_slot)
        return out + encode_tlv(c.TAG_SIGNATURE, self.signature) + self.status.encode()

    @classmethod
    def parse(cls, data: bytes) -> Auth1Response:
        f = _fields(data, _AUTH1_RESPONSE_TAGS)
        public_key = _optional(f, c.TAG_CREDENTIAL_PUBLIC_KEY, c.PUBLIC_KEY_LEN)
        key_slot = _optional(f, c.TAG_KEY_SLOT, c.KEY_SLOT_LEN)
        if (public_key is None) == (key_slot is None):
            raise AliroError("AUTH1 answer needs exactly one of 5A and 4E", field="5A")
        return cls(
            signature=_required(f, c.TAG_SIGNATURE, c.SIGNATURE_LEN),
            status=CredentialStatus(
                _required(f, c.TAG_SIGNALING, 2),
                _optional(f, c.TAG_ISSUED_AT, c.DATE_LEN),
                _optional(f, c.TAG_EXPIRES_AT, c.DATE_LEN),
            ),
            public_key=public_key,
            key_slot=key_slot,
        )


# --- EXCHANGE and CONTROL FLOW ------------------------------------------------------------


def encode_reader_status(status: int) -> bytes:
    """EXCHANGE plaintext that closes a transaction: ``97 02 <status>``."""
    return encode_tlv(c.TAG_READER_STATUS, status.to_bytes(2, "big"))


def parse_reader_status(data: bytes) -> int | None:
    """The 97 reader status of an EXCHANGE, or None when it carries none (mailbox only)."""
    f = _fields(data, frozenset((c.TAG_READER_STATUS,)))
    if c.TAG_READER_STATUS not in f:
        return None
    return int.from_bytes(_required(f, c.TAG_READER_STATUS, 2), "big")


@dataclass(frozen=True)
class ControlFlow:
    s1: int
    s2: int
    reader_info: bytes | None = None  # 43: a TLV holding a B5 reader descriptor

    def encode(self) -> bytes:
        out = encode_tlv(c.TAG_S1, bytes([self.s1])) + encode_tlv(c.TAG_S2, bytes([self.s2]))
        return out + optional_tlv(c.TAG_READER_INFO, self.reader_info)

    @classmethod
    def parse(cls, data: bytes) -> ControlFlow:
        f = _fields(data, frozenset((c.TAG_S1, c.TAG_S2, c.TAG_READER_INFO)))
        return cls(_byte(f, c.TAG_S1), _byte(f, c.TAG_S2), _optional(f, c.TAG_READER_INFO))
