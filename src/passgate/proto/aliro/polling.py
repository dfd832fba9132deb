"""The polling annotation that wakes an iPhone in Express Mode for an Aliro access reader.

Apple devices decide which pass to present from an Enhanced Contactless Polling (ECP)
frame the reader sends during its NFC-A polling loop, before any APDU. The frame, as the
public write-up of ECP describes it::

    6A  02  <config>  02 (access)  <subtype>  <TCI, 3 bytes>  <reader group id, 8 bytes>  CRC_A

* config: bit 7 automatic presentment, bit 6 "authentication not required" (Express
  Mode), low nibble = length of the data that follows the subtype;
* the TCI names the pass type (Aliro-based home keys use 20 42 20; an access program's
  passes carry the TCI the issuer registered), the last 8 bytes the reader group so the
  device can present the right pass.

Sans-IO: this module builds and checks frames; the PC/SC and nfcpy transports send them.
Not yet proven against a real iPhone on our hardware (see docs/aliro.md).
"""

from __future__ import annotations

from passgate.proto.aliro.errors import AliroError

ECP_HEADER = 0x6A
ECP_VERSION_2 = 0x02
TERMINAL_ACCESS = 0x02
SUBTYPE_ALIRO = 0x04  # the subtype Aliro readers announce
TCI_ALIRO = bytes.fromhex("204220")
CONFIG_EXPRESS = 0xC0  # automatic presentment + authentication not required
CONFIG_AUTH_REQUIRED = 0x80  # present the pass, but ask the user to authenticate
GROUP_TAIL_LEN = 8


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 CRC_A (initial 6363, reflected 1021), transmitted low byte first."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte ^= (byte << 4) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes((crc & 0xFF, crc >> 8))


def ecp_frame(
    group_identifier: bytes,
    *,
    tci: bytes = TCI_ALIRO,
    subtype: int = SUBTYPE_ALIRO,
    express: bool = True,
    with_crc: bool = False,
) -> bytes:
    """The ECP v2 access frame for a reader group (CRC appended when asked: most NFC
    front ends add it themselves)."""
    if len(tci) != 3:
        raise AliroError("a TCI is 3 bytes", field="tci")
    if len(group_identifier) < GROUP_TAIL_LEN:
        raise AliroError("the reader group identifier is at least 8 bytes", field="group")
    if not 0 <= subtype <= 0xFF:
        raise AliroError("the subtype is one byte", field="subtype")
    data = tci + group_identifier[:GROUP_TAIL_LEN]
    config = (CONFIG_EXPRESS if express else CONFIG_AUTH_REQUIRED) | len(data)
    frame = bytes((ECP_HEADER, ECP_VERSION_2, config, TERMINAL_ACCESS, subtype)) + data
    return frame + crc_a(frame) if with_crc else frame


def parse_ecp_frame(frame: bytes) -> tuple[bytes, bytes]:
    """(TCI, reader group tail) of an access frame without CRC; AliroError otherwise."""
    if len(frame) < 5 or frame[0] != ECP_HEADER or frame[1] != ECP_VERSION_2:
        raise AliroError("not an ECP v2 frame", field="frame")
    config, terminal = frame[2], frame[3]
    data = frame[5:]
    if terminal != TERMINAL_ACCESS or len(data) != config & 0x0F or len(data) < 3:
        raise AliroError("not an access ECP frame of the announced length", field="frame")
    return data[:3], data[3:]
