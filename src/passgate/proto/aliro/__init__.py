"""Tap to Unlock over NFC: Aliro 1.0 (expedited phase), both sides as sans-IO state machines.

Entry points an independent peer can drive:

* device side: :class:`DeviceApplet` ``.process(command_apdu: bytes) -> bytes``;
* reader side: :func:`run_transaction` over any object with ``transceive(command: bytes)
  -> bytes``, returning a :class:`TransactionResult` (the authenticated credential key, or
  the deny reason in ``error``).

``docs/aliro.md`` maps every message and derivation to the function that does it.
"""

from passgate.proto.aliro.certificate import ReaderCertificate, issue, verify_chain
from passgate.proto.aliro.device import DeviceApplet
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.reader import (
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    TransactionResult,
)
from passgate.proto.aliro.runner import (
    InMemory,
    ReplayDevice,
    Transceiver,
    Transcript,
    run_transaction,
)

__all__ = [
    "AliroError",
    "DeviceApplet",
    "InMemory",
    "KnownEndpoint",
    "ReaderCertificate",
    "ReaderIdentity",
    "ReaderTransaction",
    "ReplayDevice",
    "TransactionResult",
    "Transceiver",
    "Transcript",
    "issue",
    "run_transaction",
    "verify_chain",
]
