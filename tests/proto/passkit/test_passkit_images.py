from __future__ import annotations

import struct
import zlib

import pytest

from passgate.domain.errors import ValidationError
from passgate.proto.passkit import default_images, encode_png
from passgate.proto.passkit.images import PNG_SIGNATURE


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Minimal independent PNG reader for RGBA8 filter-0 images: checks every CRC."""
    assert data.startswith(PNG_SIGNATURE)
    offset = len(PNG_SIGNATURE)
    chunks: list[tuple[bytes, bytes]] = []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        chunks.append((kind, payload))
        offset += 12 + length
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color) == (8, 6)
    raw = zlib.decompress(chunks[1][1])
    stride = 1 + 4 * width
    assert len(raw) == stride * height
    rows = [raw[y * stride : (y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


def test_known_pixels_roundtrip() -> None:
    pixels = [[(1, 2, 3, 4), (5, 6, 7, 8)], [(9, 10, 11, 12), (13, 14, 15, 255)]]
    width, height, rows = decode_png(encode_png(2, 2, pixels))
    assert (width, height) == (2, 2)
    assert rows == [bytes([1, 2, 3, 4, 5, 6, 7, 8]), bytes([9, 10, 11, 12, 13, 14, 15, 255])]


def test_default_images_sizes_and_content() -> None:
    images = default_images()
    assert set(images) == {"icon.png", "icon@2x.png", "logo.png"}
    sizes = {name: decode_png(data)[:2] for name, data in images.items()}
    assert sizes == {"icon.png": (29, 29), "icon@2x.png": (58, 58), "logo.png": (160, 50)}
    _, _, rows = decode_png(images["icon@2x.png"])
    middle = rows[29]
    assert middle[29 * 4 : 29 * 4 + 4] == bytes([255, 255, 255, 255])  # the key hole
    assert rows[0][:4] == bytes([0, 0, 0, 0])  # rounded corner is transparent
    assert rows[29][2 * 4 : 2 * 4 + 4] == bytes([20, 40, 80, 255])  # badge colour


def test_default_images_returns_a_fresh_dict() -> None:
    first = default_images()
    first["icon.png"] = b"changed"
    assert default_images()["icon.png"] != b"changed"


@pytest.mark.parametrize(
    ("width", "height", "pixels", "field"),
    [
        (0, 1, [[]], "size"),
        (1, 1, [[(0, 0, 0, 0)], [(0, 0, 0, 0)]], "pixels"),
        (1, 1, [[(0, 0, 0, 256)]], "pixels"),
        (1, 1, [[(0, 0, 0)]], "pixels"),
    ],
)
def test_bad_images_rejected(
    width: int, height: int, pixels: list[list[tuple[int, ...]]], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        encode_png(width, height, pixels)  # type: ignore[arg-type]
    assert info.value.field == field
