"""PC/SC readers through pyscard (optional: imported only when used).

The agent needs one call from a card connection: transmit an APDU, get data and the two
status bytes back. ``PcscCard`` adapts any object with pyscard's ``transmit(list[int])
-> (data, sw1, sw2)`` shape, which is what unit tests fake.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from passgate.reader.agent import CardGone

log = logging.getLogger(__name__)


class CardConnectionLike(Protocol):
    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]: ...


class PcscCard:
    def __init__(self, connection: CardConnectionLike) -> None:
        self.connection = connection

    def transmit(self, command: bytes) -> bytes:
        try:
            data, sw1, sw2 = self.connection.transmit(list(command))
        except Exception as exc:
            raise CardGone(f"card connection failed: {exc}") from exc
        if not (0 <= sw1 <= 0xFF and 0 <= sw2 <= 0xFF):
            raise CardGone("reader returned an invalid status word")
        return bytes(data) + bytes([sw1, sw2])


def ecp_escape(frame: bytes) -> bytes:
    """The ACR122U pseudo-APDU that makes its PN532 send ``frame`` raw (InCommunicateThru).

    ``FF 00 00 00 Lc D4 42 <frame>``: the reader's direct-transmit escape, then the PN532
    command; the chip appends CRC_A itself.
    """
    if not 0 < len(frame) <= 250:
        raise ValueError("ECP frame must be 1 to 250 bytes")
    body = b"\xd4\x42" + frame
    return bytes((0xFF, 0x00, 0x00, 0x00, len(body))) + body


def announce(connection: CardConnectionLike, frame: bytes) -> bool:
    """Send the ECP polling annotation through an ACR122U-class reader; True when sent.

    The PN532 reports a timeout (no device answers ECP): any status word means the frame
    went out; a failing connection means the reader does not take the escape.
    """
    try:
        PcscCard(connection).transmit(ecp_escape(frame))
    except CardGone as exc:  # the tap goes on without the annotation
        log.debug("ECP escape not accepted: %s", exc)
        return False
    return True


def wait_for_card(timeout_s: float = 3600.0) -> PcscCard:  # pragma: no cover - hardware
    """Block until a card is presented to the first PC/SC reader; its connection."""
    try:
        from smartcard.CardRequest import CardRequest  # type: ignore[import-not-found]
        from smartcard.CardType import AnyCardType  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError("the pcsc transport needs pyscard: pip install pyscard") from exc
    service: Any = CardRequest(timeout=timeout_s, cardType=AnyCardType()).waitforcard()
    service.connection.connect()
    return PcscCard(service.connection)
