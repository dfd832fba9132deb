"""PC/SC readers through pyscard (optional: imported only when used).

The agent needs one call from a card connection: transmit an APDU, get data and the two
status bytes back. ``PcscCard`` adapts any object with pyscard's ``transmit(list[int])
-> (data, sw1, sw2)`` shape, which is what unit tests fake.
"""

from __future__ import annotations

from typing import Any, Protocol

from passgate.reader.agent import CardGone


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
