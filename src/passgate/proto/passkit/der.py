"""The few DER encoders the pass signature needs, written out for speed.

Assembling the SignedData through a generic ASN.1 library cost four times the RSA
signature itself; these helpers build the same bytes directly. Parsing (of untrusted
input) stays with asn1crypto in ``cms.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def sequence(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(parts: Iterable[bytes]) -> bytes:
    # DER orders the elements of a SET OF by their encodings; verifiers that
    # re-encode (OpenSSL does, for signed attributes) depend on it.
    return tlv(0x31, b"".join(sorted(parts)))


def integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are needed here")
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


NULL = b"\x05\x00"


def time(moment: datetime) -> bytes:
    """UTCTime for 1950-2049 and GeneralizedTime otherwise, as RFC 5652 requires."""
    utc = moment.astimezone(UTC)
    if 1950 <= utc.year < 2050:
        return tlv(0x17, utc.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(0x18, utc.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def explicit(number: int, content: bytes) -> bytes:
    """A context-specific constructed tag [number] around already-encoded content."""
    return tlv(0xA0 | number, content)


def elements(data: bytes) -> list[bytes]:
    """Split the content of a constructed DER element into its encoded children.

    Only used on our own certificates' DER (already parsed by cryptography), to copy
    the issuer name and serial number byte for byte.
    """
    children = []
    offset = 0
    while offset < len(data):
        first = data[offset + 1]
        header = 2
        length = first
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
            header += count
        children.append(data[offset : offset + header + length])
        offset += header + length
    return children


def content_of(element: bytes) -> bytes:
    """The content octets of one encoded element."""
    first = element[1]
    header = 2 + (first & 0x7F if first & 0x80 else 0)
    return element[header:]
