"""The reader side of an Aliro-style NFC transaction, as a sans-IO state machine.

    start() -> SELECT
    receive(FCI)            -> AUTH0 (fresh ephemeral key and transaction id)
    receive(AUTH0 response) -> TransactionResult(flow="fast")   if the 9D cryptogram verifies
                               under the persistent key of a known endpoint
                            -> AUTH1 otherwise (STANDARD)
    receive(AUTH1 response) -> TransactionResult(flow="standard") once the decrypted device
                               signature verifies and lookup() knows the key
    finish(granted)         -> CONTROL FLOW telling the device the outcome

``receive`` never raises: any status word other than 9000, malformed bytes or failed
check ends the transaction with ``authenticated=False`` and a machine-readable error. The
state machine is single use; every transaction draws a fresh nonce and ephemeral key, so a
recorded transcript can never authenticate again.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.errors import PassgateError
from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import (
    Auth0Command,
    Auth0Response,
    Auth1Command,
    Auth1Payload,
    ControlFlow,
    parse_fci,
)
from passgate.proto.apdu import CommandApdu, ResponseApdu

Flow = Literal["fast", "standard"]


@dataclass(frozen=True)
class ReaderIdentity:
    group_identifier: bytes
    instance_identifier: bytes
    private_key: ec.EllipticCurvePrivateKey  # the reader's long-term signing key
    public_key: bytes = field(init=False, repr=False)  # precomputed once, sent in AUTH1

    def __post_init__(self) -> None:
        if len(self.group_identifier) != c.GROUP_ID_LEN:
            raise AliroError("group identifier must be 16 bytes", field="group_identifier")
        if len(self.instance_identifier) != c.INSTANCE_ID_LEN:
            raise AliroError("instance identifier must be 16 bytes", field="instance_identifier")
        if not isinstance(self.private_key.curve, ec.SECP256R1):
            raise AliroError("reader key must be on P-256", field="private_key")
        object.__setattr__(self, "public_key", crypto.public_bytes(self.private_key))

    @property
    def reader_id(self) -> bytes:
        return self.group_identifier + self.instance_identifier


@dataclass(frozen=True)
class KnownEndpoint:
    """What the reader's cache knows about one credential key."""

    public_key: bytes  # 65-byte uncompressed point
    persistent_key: bytes | None = None


@dataclass(frozen=True)
class TransactionResult:
    authenticated: bool
    flow: Flow | None
    endpoint_public_key: bytes | None
    new_persistent_key: bytes | None
    error: str | None

    @classmethod
    def failed(cls, error: str, endpoint_public_key: bytes | None = None) -> TransactionResult:
        return cls(False, None, endpoint_public_key, None, error)


class _Failed(Exception):
    """Internal: ends the transaction with this error code (never escapes receive())."""

    def __init__(self, error: str, endpoint_public_key: bytes | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.endpoint_public_key = endpoint_public_key


class ReaderTransaction:
    def __init__(
        self,
        identity: ReaderIdentity,
        *,
        lookup: Callable[[bytes], KnownEndpoint | None],
        fast_candidates: Callable[[], Iterable[KnownEndpoint]],
        transaction_code: int = c.TRANSACTION_UNLOCK,
        rng: crypto.Rng = os.urandom,
        prefer_fast: bool = True,
    ) -> None:
        if not 0 <= transaction_code <= 0xFF:
            raise AliroError("transaction code must be one byte", field="transaction_code")
        self._identity = identity
        self._lookup = lookup
        self._fast_candidates = fast_candidates
        self._code = transaction_code
        self._rng = rng
        self._flags = c.FLAG_TRY_FAST if prefer_fast else c.FLAG_STANDARD_ONLY
        self._state = "new"
        self._result: TransactionResult | None = None
        self._finished = False
        self._fci = b""
        self._version = 0
        self._ephemeral: ec.EllipticCurvePrivateKey | None = None
        self._ephemeral_public = b""
        self._transaction_id = b""
        self._ctx: crypto.TransactionContext | None = None
        self._keys: crypto.SessionKeys | None = None
        self._channel: crypto.SecureChannel | None = None

    @property
    def result(self) -> TransactionResult | None:
        return self._result

    def start(self) -> bytes:
        if self._state != "new":
            raise AliroError("transaction already started")
        self._state = "select"
        return CommandApdu(c.CLA_ISO, c.INS_SELECT, 0x04, 0x00, c.AID_PRIMARY, 256).encode()

    def receive(self, response: bytes) -> bytes | TransactionResult:
        if self._result is not None:
            return self._result
        try:
            step = {
                "select": self._on_select,
                "auth0": self._on_auth0,
                "auth1": self._on_auth1,
            }.get(self._state)
            if step is None:
                raise _Failed("protocol_error")
            return step(self._check_status(response))
        except _Failed as failed:
            return self._end(TransactionResult.failed(failed.error, failed.endpoint_public_key))
        except (PassgateError, ValueError):
            # AliroError, TlvError, ApduError from parsing a peer's bytes, or a ValueError
            # from the crypto library on a malformed value: the peer broke the protocol.
            return self._end(TransactionResult.failed("protocol_error"))

    def finish(self, granted: bool) -> bytes:
        """CONTROL FLOW command with the access decision; call once, after the result."""
        if self._result is None:
            raise AliroError("finish() called before the transaction ended")
        if granted and not self._result.authenticated:
            raise AliroError("cannot grant an unauthenticated transaction")
        if self._finished:
            raise AliroError("finish() already called")
        self._finished = True
        status = c.STATUS_GRANTED if granted else c.STATUS_DENIED
        body = ControlFlow(self._flags, self._code, status).encode()
        return CommandApdu(c.CLA_PROPRIETARY, c.INS_CONTROL_FLOW, 0, 0, body).encode()

    # --- steps ----------------------------------------------------------------------

    def _end(self, result: TransactionResult) -> TransactionResult:
        self._state = "done"
        self._result = result
        # Drop ephemeral secrets as soon as they are no longer needed.
        self._ephemeral = None
        self._keys = None
        self._channel = None
        return result

    @staticmethod
    def _check_status(response: bytes) -> bytes:
        apdu = ResponseApdu.parse(response)
        if not apdu.ok:
            raise _Failed("status_word")
        return apdu.data

    def _on_select(self, data: bytes) -> bytes:
        fci = parse_fci(data)
        common = [v for v in c.SUPPORTED_VERSIONS if v in fci.versions]
        if not common:
            raise _Failed("unsupported_version")
        self._fci = fci.raw
        self._version = max(common)
        self._ephemeral = crypto.private_key_from_rng(self._rng)
        self._ephemeral_public = crypto.public_bytes(self._ephemeral)
        self._transaction_id = self._rng(c.TRANSACTION_ID_LEN)
        if len(self._transaction_id) != c.TRANSACTION_ID_LEN:
            raise AliroError("random source returned the wrong length")
        body = Auth0Command(
            flags=self._flags,
            transaction_code=self._code,
            version=self._version,
            reader_ephemeral=self._ephemeral_public,
            transaction_id=self._transaction_id,
            reader_id=self._identity.reader_id,
        ).encode()
        self._state = "auth0"
        return CommandApdu(c.CLA_PROPRIETARY, c.INS_AUTH0, 0, 0, body).encode()

    def _on_auth0(self, data: bytes) -> bytes | TransactionResult:
        response = Auth0Response.parse(data)
        device_public = crypto.load_public_key(response.device_ephemeral)
        ctx = crypto.TransactionContext(
            reader_id=self._identity.reader_id,
            reader_ephemeral=self._ephemeral_public,
            device_ephemeral=response.device_ephemeral,
            transaction_id=self._transaction_id,
            version=self._version,
            flags=self._flags,
            transaction_code=self._code,
            fci=self._fci,
        )
        self._ctx = ctx
        encoded = ctx.encode()
        if self._flags == c.FLAG_TRY_FAST and response.cryptogram is not None:
            matched = self._match_fast(response.cryptogram, encoded)
            if matched is not None:
                return self._end(TransactionResult(True, "fast", matched.public_key, None, None))
        # STANDARD: ECDH of the ephemeral keys, then prove who we are.
        assert self._ephemeral is not None
        shared = crypto.ecdh(self._ephemeral, device_public)
        self._keys = crypto.derive_standard_keys(shared, self._transaction_id, encoded)
        self._channel = crypto.SecureChannel.for_reader(self._keys)
        signature = crypto.sign_raw(self._identity.private_key, crypto.reader_signing_input(ctx))
        body = Auth1Command(
            c.AUTH1_RETURN_PUBLIC_KEY, signature, self._identity.public_key
        ).encode()
        self._state = "auth1"
        return CommandApdu(c.CLA_PROPRIETARY, c.INS_AUTH1, 0, 0, body).encode()

    def _match_fast(self, cryptogram: bytes, context: bytes) -> KnownEndpoint | None:
        matcher = crypto.FastMatcher(context)
        for endpoint in self._fast_candidates():
            if endpoint.persistent_key is not None and matcher.matches(
                endpoint.persistent_key, cryptogram
            ):
                return endpoint
        return None

    def _on_auth1(self, data: bytes) -> TransactionResult:
        assert self._channel is not None and self._keys is not None and self._ctx is not None
        plaintext = self._channel.open(data)  # AliroError -> protocol_error
        payload = Auth1Payload.parse(plaintext)
        if payload.public_key is None:
            raise _Failed("protocol_error")
        device_key = crypto.load_public_key(payload.public_key)
        if not crypto.verify_raw(
            device_key, payload.signature, crypto.device_signing_input(self._ctx)
        ):
            raise _Failed("bad_signature")
        known = self._lookup(payload.public_key)
        if known is None or not hmac.compare_digest(known.public_key, payload.public_key):
            raise _Failed("unknown_endpoint", payload.public_key)
        return self._end(
            TransactionResult(True, "standard", payload.public_key, self._keys.persistent, None)
        )
