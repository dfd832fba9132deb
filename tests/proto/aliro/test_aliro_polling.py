"""The Enhanced Contactless Polling frame for Aliro access readers."""

from __future__ import annotations

import pytest

from passgate.proto.aliro import AliroError
from passgate.proto.aliro.polling import crc_a, ecp_frame, parse_ecp_frame


def test_crc_a_check_value() -> None:
    # CRC-16/ISO-IEC-14443-3-A catalogue check value over "123456789" is 0xBF05.
    assert crc_a(b"123456789") == bytes((0x05, 0xBF))
    assert crc_a(b"\x00\x00") == bytes((0xA0, 0x1E))


def test_frame_layout() -> None:
    group = bytes.fromhex("00112233445566778899aabbccddeeff")
    frame = ecp_frame(group)
    assert frame == bytes.fromhex("6a02cb02042042200011223344556677")
    assert parse_ecp_frame(frame) == (bytes.fromhex("204220"), group[:8])
    with_crc = ecp_frame(group, with_crc=True)
    assert with_crc[:-2] == frame and with_crc[-2:] == crc_a(frame)
    assert ecp_frame(group, express=False)[2] == 0x8B


@pytest.mark.parametrize(
    "bad", ["", "6a01", "6a02cb01042042200011223344556677", "6a02cc020420422000112233"]
)
def test_bad_frames_are_refused(bad: str) -> None:
    with pytest.raises(AliroError):
        parse_ecp_frame(bytes.fromhex(bad))


def test_frame_inputs_are_checked() -> None:
    with pytest.raises(AliroError):
        ecp_frame(bytes(16), tci=b"\x20\x42")
    with pytest.raises(AliroError):
        ecp_frame(bytes(4))
