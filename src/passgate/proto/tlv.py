"""BER-TLV (ISO/IEC 7816-4 / ISO 8825) encoding and decoding.

Tags are handled as integers formed from their raw bytes (``0x7F66`` is the two-byte tag
``7F 66``), so they read the same as in the specifications. Lengths use the definite forms
only: short (``00``-``7F``) and long with one to three length bytes (``81``-``83``). The
indefinite form (``80``) is refused: smart-card protocols never use it and accepting it
would make one byte string parse in more than one way.

Constructed values (bit 6 of the first tag byte set) are parsed into children only when
asked (``recursive=True`` or :meth:`Tlv.children`), because several Aliro fields are
hashed or signed as raw bytes and must be kept exactly as received.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from passgate.errors import ProtocolError

MAX_TAG_BYTES = 3
MAX_LENGTH = 0xFFFFFF  # three length bytes


class TlvError(ProtocolError):
    """Malformed BER-TLV input (or an attempt to encode something BER-TLV cannot carry)."""

    code = "tlv_error"


@functools.lru_cache(maxsize=512)
def _tag_bytes(tag: int) -> bytes:
    if tag <= 0:
        raise TlvError("tag must be a positive integer", field="tag")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    if len(raw) > MAX_TAG_BYTES:
        raise TlvError("tag longer than three bytes", field="tag")
    _check_tag_structure(raw)
    return raw


def _check_tag_structure(raw: bytes) -> None:
    # A one-byte tag must not announce continuation (low five bits all ones); a multi-byte
    # tag must announce it, set bit 8 on every middle byte and clear it on the last one.
    multi = (raw[0] & 0x1F) == 0x1F
    if len(raw) == 1:
        if multi:
            raise TlvError("one-byte tag announces a continuation byte", field="tag")
        return
    if not multi:
        raise TlvError("multi-byte tag without the continuation marker", field="tag")
    for middle in raw[1:-1]:
        if not middle & 0x80:
            raise TlvError("multi-byte tag ends too early", field="tag")
    if raw[-1] & 0x80:
        raise TlvError("multi-byte tag does not end", field="tag")


def encode_length(length: int) -> bytes:
    """Definite length, shortest form."""
    if length < 0 or length > MAX_LENGTH:
        raise TlvError("value too long for BER-TLV", field="length")
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One TLV object: tag bytes, length, value."""
    return _tag_bytes(tag) + encode_length(len(value)) + bytes(value)


def encode_many(items: Iterable[tuple[int, bytes]]) -> bytes:
    """Concatenate several TLV objects, in the given order."""
    return b"".join(encode_tlv(tag, value) for tag, value in items)


def is_constructed(tag: int) -> bool:
    """Bit 6 of the first tag byte marks a constructed (nested) value."""
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return bool(raw[0] & 0x20)


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    nested: tuple[Tlv, ...] | None = None  # filled when decoded with recursive=True

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def encode(self) -> bytes:
        return encode_tlv(self.tag, self.value)

    def children(self) -> tuple[Tlv, ...]:
        """Parse the value as a sequence of TLV objects (constructed tags only)."""
        if not self.constructed:
            raise TlvError("primitive tag has no children", field="tag")
        if self.nested is not None:
            return self.nested
        return tuple(decode_all(self.value))


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TlvError("truncated tag", field="tag")
    end = pos + 1
    if (data[pos] & 0x1F) == 0x1F:
        while True:
            if end >= len(data):
                raise TlvError("truncated multi-byte tag", field="tag")
            end += 1
            if not data[end - 1] & 0x80:
                break
            if end - pos >= MAX_TAG_BYTES:
                raise TlvError("tag longer than three bytes", field="tag")
    raw = data[pos:end]
    if raw[0] in (0x00, 0xFF):
        # 00 and FF are padding bytes in ISO 7816 files, never tags in our messages.
        raise TlvError("padding byte where a tag was expected", field="tag")
    _check_tag_structure(raw)
    return int.from_bytes(raw, "big"), end


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TlvError("truncated length", field="length")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length is not supported", field="length")
    if count > 3:
        raise TlvError("length field longer than three bytes", field="length")
    if pos + 1 + count > len(data):
        raise TlvError("truncated length", field="length")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def decode_one(data: bytes, pos: int = 0, *, recursive: bool = False) -> tuple[Tlv, int]:
    """Decode the TLV object starting at ``pos``; return it and the offset after it."""
    tag, pos = _read_tag(data, pos)
    length, pos = _read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise TlvError("value runs past the end of the data", field="value")
    value = bytes(data[pos:end])
    nested = None
    if recursive and is_constructed(tag):
        nested = tuple(decode_all(value, recursive=True))
    return Tlv(tag, value, nested), end


def decode_all(data: bytes, *, recursive: bool = False) -> list[Tlv]:
    """Decode a complete sequence of TLV objects; trailing garbage is an error."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        item, pos = decode_one(data, pos, recursive=recursive)
        out.append(item)
    return out


def unique_map(items: Iterable[Tlv]) -> Mapping[int, bytes]:
    """Index objects by tag, refusing duplicates.

    Security-relevant messages must not carry a tag twice: two parsers picking different
    copies is a classic way to make a signer and a verifier disagree.
    """
    out: dict[int, bytes] = {}
    for item in items:
        if item.tag in out:
            raise TlvError(f"duplicate tag {item.tag:X}", field="tag")
        out[item.tag] = item.value
    return out
