"""Default pass images, drawn in code and encoded as PNG without any imaging library.

Wallet refuses a pass without icon.png; a small generated key-hole badge lets a
deployment run before anyone designs artwork. The encoder writes 8-bit RGBA,
filter type 0 for every row, one IDAT chunk: the simplest valid PNG.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from functools import lru_cache

from passgate.errors import ValidationError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Rgba = tuple[int, int, int, int]

_BACKGROUND: Rgba = (20, 40, 80, 255)
_FOREGROUND: Rgba = (255, 255, 255, 255)
_TRANSPARENT: Rgba = (0, 0, 0, 0)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(width: int, height: int, pixels: Sequence[Sequence[Rgba]]) -> bytes:
    """Encode rows of RGBA pixels (``height`` rows of ``width`` pixels) as a PNG file."""
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise ValidationError("image size must be between 1 and 4096 pixels", field="size")
    if len(pixels) != height or any(len(row) != width for row in pixels):
        raise ValidationError("pixel rows do not match the image size", field="pixels")
    raw = bytearray()
    for row in pixels:
        raw.append(0)  # filter type "None" for this scanline
        for pixel in row:
            if len(pixel) != 4 or any(not 0 <= channel <= 255 for channel in pixel):
                raise ValidationError("each pixel must be four 0-255 channels", field="pixels")
            raw.extend(pixel)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


def _keyhole_pixel(x: int, y: int, size: int) -> Rgba:
    """A rounded square badge with a key hole (a circle over a tapering slot)."""
    # Work in units of 1/size so every resolution draws the same picture.
    u = (x + 0.5) / size
    v = (y + 0.5) / size
    corner = 0.18
    dx = max(corner - u, 0.0, u - (1 - corner))
    dy = max(corner - v, 0.0, v - (1 - corner))
    if dx * dx + dy * dy > corner * corner:
        return _TRANSPARENT
    in_circle = (u - 0.5) ** 2 + (v - 0.4) ** 2 <= 0.14**2
    half_width = 0.05 + 0.06 * (v - 0.4) / 0.38
    in_slot = 0.4 <= v <= 0.78 and abs(u - 0.5) <= half_width
    return _FOREGROUND if in_circle or in_slot else _BACKGROUND


def _icon(size: int) -> bytes:
    rows = [[_keyhole_pixel(x, y, size) for x in range(size)] for y in range(size)]
    return encode_png(size, size, rows)


def _logo(width: int, height: int) -> bytes:
    # The logo is the same badge, left-aligned in a transparent strip.
    rows = [
        [_keyhole_pixel(x, y, height) if x < height else _TRANSPARENT for x in range(width)]
        for y in range(height)
    ]
    return encode_png(width, height, rows)


@lru_cache(maxsize=1)
def _default_images() -> tuple[tuple[str, bytes], ...]:
    return (
        ("icon.png", _icon(29)),
        ("icon@2x.png", _icon(58)),
        ("logo.png", _logo(160, 50)),
    )


def default_images() -> dict[str, bytes]:
    """icon.png, icon@2x.png and logo.png, generated once per process and then reused."""
    return dict(_default_images())
