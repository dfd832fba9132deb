"""nfcpy devices (optional: imported only when used).

nfcpy hands the agent an ISO-DEP tag whose ``transceive(bytes) -> bytes`` carries whole
APDUs (status word included); ``NfcpyCard`` adapts it, and tests fake the tag.
"""

from __future__ import annotations

from typing import Any, Protocol

from passgate.reader.agent import CardGone


class IsoDepTagLike(Protocol):
    def transceive(self, data: bytes, timeout: float = ...) -> bytes: ...


class NfcpyCard:
    def __init__(self, tag: IsoDepTagLike, timeout_s: float = 1.0) -> None:
        self.tag = tag
        self.timeout_s = timeout_s

    def transmit(self, command: bytes) -> bytes:
        try:
            response = bytes(self.tag.transceive(command, timeout=self.timeout_s))
        except Exception as exc:
            raise CardGone(f"tag lost: {exc}") from exc
        if len(response) < 2:
            raise CardGone("response without a status word")
        return response


def open_frontend(path: str = "usb") -> Any:  # pragma: no cover - hardware
    try:
        import nfc  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError("the nfcpy transport needs nfcpy: pip install nfcpy") from exc
    return nfc.ContactlessFrontend(path)
