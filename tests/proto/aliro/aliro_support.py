"""Helpers for the Aliro tests: fixed keys, deterministic rngs, a small reader cache."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import (
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
)

GROUP = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
INSTANCE = bytes.fromhex("0F0E0D0C0B0A09080706050403020100")


def fixed_key(n: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(n, ec.SECP256R1())


def counter_rng(seed: bytes) -> Callable[[int], bytes]:
    """Deterministic stand-in for os.urandom (SHA-256 in counter mode)."""
    state = {"i": 0}

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            state["i"] += 1
            out += hashlib.sha256(seed + state["i"].to_bytes(4, "big")).digest()
        return out[:n]

    return rng


class Cache:
    """The reader's view of credentials: public key -> KnownEndpoint."""

    def __init__(self) -> None:
        self.endpoints: dict[bytes, KnownEndpoint] = {}

    def add(self, public_key: bytes, persistent: bytes | None = None) -> None:
        self.endpoints[public_key] = KnownEndpoint(public_key, persistent)

    def lookup(self, public_key: bytes) -> KnownEndpoint | None:
        return self.endpoints.get(public_key)

    def fast(self) -> Iterable[KnownEndpoint]:
        return [e for e in self.endpoints.values() if e.persistent_key is not None]

    def transaction(
        self, identity: ReaderIdentity, *, prefer_fast: bool = True, seed: bytes | None = None
    ) -> ReaderTransaction:
        return ReaderTransaction(
            identity,
            lookup=self.lookup,
            fast_candidates=self.fast,
            prefer_fast=prefer_fast,
            rng=os.urandom if seed is None else counter_rng(seed),
        )
