"""Tap to Unlock over NFC, Aliro-style: both sides as sans-IO state machines.

Reader side: :class:`ReaderTransaction`; device side: :class:`DeviceApplet`; in-memory
pump: :func:`run_transaction`. Cryptographic choices are documented in
:mod:`passgate.proto.aliro.crypto`.
"""

from passgate.proto.aliro.device import DeviceApplet, ReaderVerifier
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.reader import (
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    TransactionResult,
)
from passgate.proto.aliro.runner import ReplayDevice, Transcript, run_transaction

__all__ = [
    "AliroError",
    "DeviceApplet",
    "KnownEndpoint",
    "ReaderIdentity",
    "ReaderTransaction",
    "ReaderVerifier",
    "ReplayDevice",
    "TransactionResult",
    "Transcript",
    "run_transaction",
]
