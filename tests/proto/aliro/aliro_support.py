"""Helpers for the Aliro tests: the published vectors, fixed keys, scripted rngs, a cache."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import (
    DeviceApplet,
    InMemory,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    crypto,
    run_transaction,
)
from passgate.proto.aliro.runner import Transcript
from passgate.proto.apdu import CommandApdu

# Aliro 1.0 Specification and Test Plan, Appendix 14.3 (STANDARD) and 14.4 (FAST).
VECTORS: dict[str, Any] = json.loads((Path(__file__).with_name("vectors-1.0.json")).read_text())
COMMON = VECTORS["common"]
STANDARD = VECTORS["standard_14_3"]
FAST = VECTORS["fast_14_4"]
N = crypto.P256_ORDER


def h(name: str, section: dict[str, Any] = COMMON) -> bytes:
    return bytes.fromhex(section[name])


GROUP = h("reader_group_identifier")
SUB = h("reader_group_sub_identifier")


def scalar_key(hex_scalar: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(hex_scalar, 16), ec.SECP256R1())


def fixed_key(n: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(n, ec.SECP256R1())


READER_KEY = scalar_key(COMMON["reader_private_key"])
CREDENTIAL_KEY = scalar_key(COMMON["credential_private_key"])


def scripted_rng(*chunks: bytes) -> Callable[[int], bytes]:
    """Returns the given byte strings in order, each exactly when its length is asked for."""
    queue = list(chunks)

    def rng(n: int) -> bytes:
        assert queue, "rng called more often than scripted"
        chunk = queue.pop(0)
        assert len(chunk) == n, f"rng asked for {n} bytes, script has {len(chunk)}"
        return chunk

    return rng


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


def nonce_of(signature: bytes, private: ec.EllipticCurvePrivateKey, message: bytes) -> int:
    """The ECDSA nonce k behind a published signature (possible with the private key)."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    d = private.private_numbers().private_value
    return pow(s, -1, N) * (e + r * d) % N


def fixed_nonce_signer(private: ec.EllipticCurvePrivateKey, k: int) -> crypto.Signer:
    """ECDSA with an injected nonce: the signature hook's known-answer stand-in."""
    d = private.private_numbers().private_value
    point = ec.derive_private_key(k, ec.SECP256R1()).public_key().public_numbers()
    r = point.x % N

    def sign(message: bytes) -> bytes:
        e = int.from_bytes(hashlib.sha256(message).digest(), "big")
        s = pow(k, -1, N) * (e + r * d) % N
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


class Cache:
    """The reader's view of credentials: public key -> KnownEndpoint."""

    def __init__(self) -> None:
        self.endpoints: dict[bytes, KnownEndpoint] = {}

    def add(self, public_key: bytes, persistent: bytes | None = None) -> None:
        self.endpoints[public_key] = KnownEndpoint(public_key, persistent)

    def lookup(self, public_key: bytes) -> KnownEndpoint | None:
        return self.endpoints.get(public_key)

    def lookup_slot(self, slot: bytes) -> KnownEndpoint | None:
        for endpoint in self.endpoints.values():
            if crypto.key_slot(endpoint.public_key) == slot:
                return endpoint
        return None

    def fast(self) -> Iterable[KnownEndpoint]:
        return [e for e in self.endpoints.values() if e.persistent_key is not None]

    def learn(self, public_key: bytes, persistent: bytes | None) -> None:
        if persistent is not None:
            self.add(public_key, persistent)

    def transaction(self, identity: ReaderIdentity, **kwargs: Any) -> ReaderTransaction:
        seed = kwargs.pop("seed", None)
        if seed is not None:
            kwargs["rng"] = counter_rng(seed)
        return ReaderTransaction(identity, lookup=self.lookup, fast_candidates=self.fast, **kwargs)


def vector_identity(certificate: bytes | None = None) -> ReaderIdentity:
    """The reader of the appendix: its key is the group key the device was given."""
    return ReaderIdentity.with_key(GROUP, SUB, READER_KEY, certificate=certificate)


def vector_device(**kwargs: Any) -> DeviceApplet:
    kwargs.setdefault("persistent_keys", {})
    kwargs.setdefault("reader_groups", {GROUP: h("reader_public_key")})
    return DeviceApplet(CREDENTIAL_KEY, **kwargs)


def tap(
    cache: Cache,
    identity: ReaderIdentity,
    device: DeviceApplet,
    *,
    transcript: Transcript | None = None,
    decide: Callable[[Any], bool] | None = None,
    **kwargs: Any,
) -> Any:
    """One whole transaction in memory; the reader learns the persistent key it gets."""
    result = run_transaction(
        cache.transaction(identity, rng=kwargs.pop("rng", os.urandom), **kwargs),
        InMemory(device, transcript),
        decide=decide,
    )
    if result.authenticated:
        assert result.endpoint_public_key is not None
        cache.learn(result.endpoint_public_key, result.new_persistent_key)
    return result


class Tool:
    """The test tool between reader and device: records APDUs and rewrites one on request."""

    def __init__(
        self,
        device: DeviceApplet,
        *,
        command: Callable[[bytes], bytes] = lambda b: b,
        response: Callable[[bytes, bytes], bytes] = lambda cmd, rsp: rsp,
    ) -> None:
        self.device, self.command, self.response = device, command, response
        self.seen: list[tuple[CommandApdu, bytes]] = []

    def transceive(self, raw: bytes) -> bytes:
        raw = self.command(raw)
        answer = self.response(raw, self.device.process(raw))
        self.seen.append((CommandApdu.parse(raw), answer))
        return answer

    def sent(self, ins: int) -> list[CommandApdu]:
        return [cmd for cmd, _ in self.seen if cmd.ins == ins]

    def closing(self) -> CommandApdu:
        return self.seen[-1][0]
