"""The lock relay. Fail secure: any fault leaves the door locked.

A relay driver only ever gets "unlock for N seconds"; there is no "stay open" call, so a
crash between unlock and relock cannot leave a door open (the hardware relocks on its
own timer). A driver that raises is treated as "did not unlock".
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class RelayDriver(Protocol):
    def pulse(self, seconds: float) -> None:
        """Energize the lock for ``seconds`` (the hardware relocks on its own)."""


class SimulatedRelay:
    """Counts pulses; ``fail`` makes it raise like a broken driver."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.pulses: list[float] = []
        self._lock = threading.Lock()

    def pulse(self, seconds: float) -> None:
        if self.fail:
            raise OSError("relay driver fault")
        with self._lock:
            self.pulses.append(time.monotonic())


def unlock(driver: RelayDriver, seconds: float = 3.0) -> bool:
    """True when the relay unlocked; False (door stays locked) on any driver fault."""
    try:
        driver.pulse(seconds)
    except Exception:
        log.exception("relay fault; the door stays locked")
        return False
    return True
