"""nfcpy devices (optional: imported only when used).

nfcpy hands the agent an ISO-DEP tag whose ``transceive(bytes) -> bytes`` carries whole
APDUs (status word included); ``NfcpyCard`` adapts it, and tests fake the tag. Before each
poll the reader sends the Aliro ECP annotation (``announce``) so an iPhone in Express
Mode wakes for the door. Tested with fakes only; see docs/aliro.md for hardware status.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from passgate.reader.agent import CardGone

log = logging.getLogger(__name__)


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


def announce(frontend: Any, frame: bytes) -> bool:
    """Send the ECP polling annotation once (PN53x chips: InCommunicateThru).

    No device answers an ECP frame, so the chip's receive timeout is the expected outcome.
    False when this front end cannot send raw frames (the tap still works for devices that
    do not need the annotation; an iPhone in Express Mode then stays asleep).
    """
    chipset = getattr(getattr(frontend, "device", None), "chipset", None)
    send = getattr(chipset, "in_communicate_thru", None)
    if send is None:
        return False
    try:
        send(frame, 0.005)
    except Exception as exc:  # noqa: BLE001 - the expected timeout's class is nfcpy's own
        log.debug("ECP frame sent (%s)", type(exc).__name__)
    return True


def open_frontend(path: str = "usb") -> Any:  # pragma: no cover - hardware
    try:
        import nfc  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError("the nfcpy transport needs nfcpy: pip install 'passgate[nfc]'") from exc
    return nfc.ContactlessFrontend(path)


def wait_for_tag(frontend: Any, frame: bytes | None) -> NfcpyCard:  # pragma: no cover - hw
    """Poll NFC-A (after the ECP annotation, when given) until an ISO-DEP device answers."""
    import nfc  # type: ignore[import-not-found,unused-ignore]

    while True:
        if frame is not None:
            announce(frontend, frame)
        target = frontend.sense(nfc.clf.RemoteTarget("106A"), iterations=1, interval=0.05)
        if target is None:
            continue
        tag = nfc.tag.activate(frontend, target)
        if tag is not None and hasattr(tag, "transceive"):
            return NfcpyCard(tag)
