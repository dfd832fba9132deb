"""Typed Aliro messages: the BER-TLV bodies of SELECT, AUTH0, AUTH1 and CONTROL FLOW.

Each ``parse`` checks presence and exact lengths of what the protocol needs and raises
:class:`AliroError` for anything else, so the state machines only ever see well-formed
values. Unknown extra tags are ignored (forward compatibility); duplicated tags are not.

Our choice beyond the write-up: AUTH1 may carry tag 5A with the reader's long-term public
key. The write-up gives a reader no way to name its key unless it loads a certificate; a
device provisioned with its reader group's key can ignore the tag and use its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from passgate.proto.aliro import constants as c
from passgate.proto.aliro.errors import AliroError
from passgate.proto.tlv import Tlv, TlvError, decode_all, encode_many, encode_tlv, unique_map


def _fields(data: bytes) -> Mapping[int, bytes]:
    try:
        return unique_map(decode_all(data))
    except TlvError as exc:
        raise AliroError(f"malformed TLV: {exc.message}", field="data") from exc


def _required(fields: Mapping[int, bytes], tag: int, length: int | None = None) -> bytes:
    value = fields.get(tag)
    if value is None:
        raise AliroError(f"missing tag {tag:X}", field=f"{tag:X}")
    if length is not None and len(value) != length:
        raise AliroError(f"tag {tag:X} must be {length} bytes", field=f"{tag:X}")
    return value


def _byte(fields: Mapping[int, bytes], tag: int) -> int:
    return _required(fields, tag, 1)[0]


def _optional(fields: Mapping[int, bytes], tag: int, length: int) -> bytes | None:
    if tag not in fields:
        return None
    return _required(fields, tag, length)


@dataclass(frozen=True)
class Fci:
    versions: tuple[int, ...]
    medium: bytes | None
    raw: bytes  # the whole 6F template as received; it feeds the key derivations


def build_fci(
    versions: Sequence[int] = c.SUPPORTED_VERSIONS,
    capabilities: Sequence[bytes] = (b"\x00\x00",),
    medium: bytes = c.MEDIUM_MOBILE,
) -> bytes:
    caps = encode_many((c.TAG_CAPABILITY, cap) for cap in capabilities)
    proprietary = encode_many(
        (
            (c.TAG_MEDIUM_TYPE, medium),
            (c.TAG_VERSIONS, b"".join(v.to_bytes(2, "big") for v in versions)),
            (c.TAG_CAPABILITIES, caps),
        )
    )
    body = encode_tlv(c.TAG_DF_NAME, c.AID_PRIMARY) + encode_tlv(c.TAG_FCI_PROPRIETARY, proprietary)
    return encode_tlv(c.TAG_FCI, body)


def parse_fci(data: bytes) -> Fci:
    try:
        items = decode_all(data)
        if len(items) != 1 or items[0].tag != c.TAG_FCI:
            raise AliroError("SELECT response is not one FCI template", field="6F")
        template = unique_map(items[0].children())
        prop_raw = _required(template, c.TAG_FCI_PROPRIETARY)
        prop = unique_map(Tlv(c.TAG_FCI_PROPRIETARY, prop_raw).children())
    except TlvError as exc:
        raise AliroError(f"malformed FCI: {exc.message}", field="6F") from exc
    raw_versions = _required(prop, c.TAG_VERSIONS)
    if not raw_versions or len(raw_versions) % 2:
        raise AliroError("version list must be a non-empty list of 2-byte values", field="5C")
    versions = tuple(
        int.from_bytes(raw_versions[i : i + 2], "big") for i in range(0, len(raw_versions), 2)
    )
    return Fci(versions, prop.get(c.TAG_MEDIUM_TYPE), bytes(data))


@dataclass(frozen=True)
class Auth0Command:
    flags: int
    transaction_code: int
    version: int
    reader_ephemeral: bytes
    transaction_id: bytes
    reader_id: bytes

    def encode(self) -> bytes:
        return encode_many(
            (
                (c.TAG_FLAGS, bytes([self.flags])),
                (c.TAG_TRANSACTION_CODE, bytes([self.transaction_code])),
                (c.TAG_VERSIONS, self.version.to_bytes(2, "big")),
                (c.TAG_READER_EPHEMERAL_KEY, self.reader_ephemeral),
                (c.TAG_TRANSACTION_ID, self.transaction_id),
                (c.TAG_READER_ID, self.reader_id),
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> Auth0Command:
        f = _fields(data)
        return cls(
            flags=_byte(f, c.TAG_FLAGS),
            transaction_code=_byte(f, c.TAG_TRANSACTION_CODE),
            version=int.from_bytes(_required(f, c.TAG_VERSIONS, 2), "big"),
            reader_ephemeral=_required(f, c.TAG_READER_EPHEMERAL_KEY, c.PUBLIC_KEY_LEN),
            transaction_id=_required(f, c.TAG_TRANSACTION_ID, c.TRANSACTION_ID_LEN),
            reader_id=_required(f, c.TAG_READER_ID, c.READER_ID_LEN),
        )


@dataclass(frozen=True)
class Auth0Response:
    device_ephemeral: bytes
    cryptogram: bytes | None

    def encode(self) -> bytes:
        out = encode_tlv(c.TAG_DEVICE_EPHEMERAL_KEY, self.device_ephemeral)
        if self.cryptogram is not None:
            out += encode_tlv(c.TAG_CRYPTOGRAM, self.cryptogram)
        return out

    @classmethod
    def parse(cls, data: bytes) -> Auth0Response:
        f = _fields(data)
        return cls(
            device_ephemeral=_required(f, c.TAG_DEVICE_EPHEMERAL_KEY, c.PUBLIC_KEY_LEN),
            cryptogram=_optional(f, c.TAG_CRYPTOGRAM, c.CRYPTOGRAM_LEN),
        )


@dataclass(frozen=True)
class Auth1Command:
    flags: int
    signature: bytes
    reader_public_key: bytes | None = None  # our extension, see module docstring

    def encode(self) -> bytes:
        out = encode_tlv(c.TAG_FLAGS, bytes([self.flags]))
        out += encode_tlv(c.TAG_SIGNATURE, self.signature)
        if self.reader_public_key is not None:
            out += encode_tlv(c.TAG_PUBLIC_KEY, self.reader_public_key)
        return out

    @classmethod
    def parse(cls, data: bytes) -> Auth1Command:
        f = _fields(data)
        return cls(
            flags=_byte(f, c.TAG_FLAGS),
            signature=_required(f, c.TAG_SIGNATURE, c.SIGNATURE_LEN),
            reader_public_key=_optional(f, c.TAG_PUBLIC_KEY, c.PUBLIC_KEY_LEN),
        )


@dataclass(frozen=True)
class Auth1Payload:
    """The decrypted body of the AUTH1 response."""

    signature: bytes
    public_key: bytes | None
    device_id: bytes | None

    def encode(self) -> bytes:
        out = b""
        if self.device_id is not None:
            out += encode_tlv(c.TAG_DEVICE_ID, self.device_id)
        if self.public_key is not None:
            out += encode_tlv(c.TAG_PUBLIC_KEY, self.public_key)
        return out + encode_tlv(c.TAG_SIGNATURE, self.signature)

    @classmethod
    def parse(cls, data: bytes) -> Auth1Payload:
        f = _fields(data)
        return cls(
            signature=_required(f, c.TAG_SIGNATURE, c.SIGNATURE_LEN),
            public_key=_optional(f, c.TAG_PUBLIC_KEY, c.PUBLIC_KEY_LEN),
            device_id=_optional(f, c.TAG_DEVICE_ID, c.DEVICE_ID_LEN),
        )


@dataclass(frozen=True)
class ControlFlow:
    flags: int
    transaction_code: int
    status: int | None

    def encode(self) -> bytes:
        out = encode_tlv(c.TAG_FLAGS, bytes([self.flags]))
        out += encode_tlv(c.TAG_TRANSACTION_CODE, bytes([self.transaction_code]))
        if self.status is not None:
            out += encode_tlv(c.TAG_STATUS, bytes([self.status]))
        return out

    @classmethod
    def parse(cls, data: bytes) -> ControlFlow:
        f = _fields(data)
        status = _optional(f, c.TAG_STATUS, 1)
        return cls(
            flags=_byte(f, c.TAG_FLAGS),
            transaction_code=_byte(f, c.TAG_TRANSACTION_CODE),
            status=None if status is None else status[0],
        )
