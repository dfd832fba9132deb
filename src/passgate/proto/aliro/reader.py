"""The reader side of an Aliro 1.0 NFC transaction (expedited phase), sans-IO.

    start()                   -> SELECT
    receive(FCI)              -> AUTH0 (fresh ephemeral key and transaction id)
                              -> failed "unsupported_version" when no version is common
    receive(AUTH0 answer)     -> result flow="fast" when the 9D cryptogram opens under the
                                 persistent key of a known credential
                              -> LOAD CERTIFICATE (when configured), then AUTH1
    receive(AUTH1 answer)     -> result flow="standard" once the decrypted device signature
                                 verifies and ``lookup`` knows the key
    finish(granted)           -> EXCHANGE with the encrypted 97 reader status when a secure
                                 channel exists, else CONTROL FLOW with S1/S2

Commands come out as :class:`CommandApdu` (full data, any length): the transport loop in
:mod:`passgate.proto.aliro.runner` chains them or uses extended length as the device's FCI
allows, and collects 61xx answers with GET RESPONSE. ``receive`` never raises: a status
word other than 9000, malformed bytes or a failed check ends the transaction with
``authenticated=False`` and a machine-readable error. Every transaction draws a fresh
nonce and ephemeral key, so a recorded transcript can never authenticate again.
"""

from __future__ import annotations

import functools
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.errors import PassgateError
from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import (
    Auth0Command,
    Auth0Response,
    Auth1Command,
    Auth1Response,
    ControlFlow,
    CredentialStatus,
    Fci,
    encode_reader_status,
    optional_tlv,
    parse_fci,
)
from passgate.proto.apdu import CommandApdu, ResponseApdu

Flow = Literal["fast", "standard"]
CertificateMode = Literal["none", "auth1", "load"]
LE = 256  # "Le 00": up to 256 bytes (the transport follows 61xx for more)


@dataclass(frozen=True)
class ReaderIdentity:
    """Who the reader is to devices.

    ``group_public_key`` is the key devices of this reader group were provisioned with:
    without a certificate the reader signs with the matching private key; with one, it
    signs with its own key and ``certificate`` (compressed, issued by the group key)
    vouches for it.
    """

    group_identifier: bytes
    sub_identifier: bytes
    group_public_key: bytes  # 65-byte point the device knows
    signer: crypto.Signer  # the key that signs AUTH1: group key, or the certified own key
    certificate: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.group_identifier) != c.GROUP_ID_LEN:
            raise AliroError("group identifier must be 16 bytes", field="group_identifier")
        if len(self.sub_identifier) != c.SUB_ID_LEN:
            raise AliroError("sub-identifier must be 16 bytes", field="sub_identifier")
        crypto.load_public_key(self.group_public_key)

    @classmethod
    def with_key(
        cls,
        group_identifier: bytes,
        sub_identifier: bytes,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        group_public_key: bytes | None = None,
        certificate: bytes | None = None,
    ) -> ReaderIdentity:
        public = group_public_key or crypto.public_bytes(private_key)
        return cls(
            group_identifier, sub_identifier, public, crypto.key_signer(private_key), certificate
        )

    @property
    def reader_id(self) -> bytes:
        return self.group_identifier + self.sub_identifier


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
    status: CredentialStatus | None = None

    @classmethod
    def failed(cls, error: str, endpoint_public_key: bytes | None = None) -> TransactionResult:
        return cls(False, None, endpoint_public_key, None, error)


class _Failed(Exception):
    """Internal: ends the transaction with this error code (never escapes receive())."""

    def __init__(self, error: str, endpoint_public_key: bytes | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.endpoint_public_key = endpoint_public_key


# Which reader status closes a failed transaction inside the secure channel.
_EXCHANGE_STATUS = {
    "unknown_endpoint": c.READER_STATUS_UNKNOWN_KEY,
    "unknown_key_slot": c.READER_STATUS_NO_KEY_SLOT,
    "bad_signature": c.READER_STATUS_BAD_SIGNATURE,
    "protocol_error": c.READER_STATUS_BAD_FORMAT,
}


@functools.lru_cache(maxsize=64)
def _parsed_fci(data: bytes) -> Fci:
    """A device sends the same FCI on every tap: parse each distinct one once."""
    return parse_fci(data)


class ReaderTransaction:
    def __init__(
        self,
        identity: ReaderIdentity,
        *,
        lookup: Callable[[bytes], KnownEndpoint | None],
        fast_candidates: Callable[[], Iterable[KnownEndpoint]],
        lookup_slot: Callable[[bytes], KnownEndpoint | None] | None = None,
        policy: int = c.POLICY_USER_DEVICE_SETTING,
        rng: crypto.Rng = os.urandom,
        prefer_fast: bool = True,
        certificate_mode: CertificateMode | None = None,
        versions: tuple[int, ...] = c.SUPPORTED_VERSIONS,
        extension: bytes | None = None,
        interface: int = c.INTERFACE_NFC,
    ) -> None:
        if interface not in (c.INTERFACE_NFC, c.INTERFACE_BLE):
            raise AliroError("interface must be 5E (NFC) or C3 (BLE)", field="interface")
        if policy not in c.AUTH_POLICIES:
            raise AliroError("authentication policy must be 01, 02 or 03", field="policy")
        mode = certificate_mode or ("load" if identity.certificate else "none")
        if mode != "none" and identity.certificate is None:
            raise AliroError("a certificate mode needs a reader certificate", field="certificate")
        self._identity = identity
        self._lookup = lookup
        self._lookup_slot = lookup_slot
        self._fast_candidates = fast_candidates
        self._policy = policy
        self._rng = rng
        self._flags = c.FLAGS_FAST if prefer_fast else c.FLAGS_STANDARD
        self._mode: CertificateMode = mode
        self._versions = versions
        self._extension = extension
        self._interface = interface
        self._state = "new"
        self._result: TransactionResult | None = None
        self._finished = False
        self._fci_proprietary = b""
        self._version = 0
        self._ephemeral: ec.EllipticCurvePrivateKey | None = None
        self._ephemeral_public = b""
        self._transaction_id = b""
        self._ctx: crypto.Context | None = None
        self._kdh = b""
        self._channel: crypto.SecureChannel | None = None
        self.max_command: int | None = None  # the device's 7F66 limits, once known
        self.max_response: int | None = None

    @property
    def result(self) -> TransactionResult | None:
        return self._result

    @property
    def transaction_id(self) -> bytes:
        return self._transaction_id

    def start(self) -> CommandApdu:
        if self._state != "new":
            raise AliroError("transaction already started")
        self._state = "select"
        return CommandApdu(c.CLA_ISO, c.INS_SELECT, 0x04, 0x00, c.AID_PRIMARY, LE)

    def receive(self, response: bytes) -> CommandApdu | TransactionResult:
        if self._result is not None:
            return self._result
        try:
            step = {
                "select": self._on_select,
                "auth0": self._on_auth0,
                "load_certificate": self._on_load_certificate,
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

    def finish(self, granted: bool) -> CommandApdu:
        """The closing command: EXCHANGE with the reader status, or CONTROL FLOW."""
        if self._result is None:
            raise AliroError("finish() called before the transaction ended")
        if granted and not self._result.authenticated:
            raise AliroError("cannot grant an unauthenticated transaction")
        if self._finished:
            raise AliroError("finish() already called")
        self._finished = True
        channel, self._channel = self._channel, None
        if channel is not None and not channel.closed:
            error = self._result.error
            status = (
                c.READER_STATUS_GRANTED
                if granted
                else _EXCHANGE_STATUS.get(error or "", c.READER_STATUS_DENIED)
            )
            body = channel.seal(encode_reader_status(status))
            return CommandApdu(c.CLA_PROPRIETARY, c.INS_EXCHANGE, 0, 0, body, LE)
        s2 = c.S2_NO_COMMON_VERSION if self._result.error == "unsupported_version" else c.S2_GENERIC
        body = ControlFlow(c.S1_FAILURE, s2).encode()
        return CommandApdu(c.CLA_PROPRIETARY, c.INS_CONTROL_FLOW, 0, 0, body)

    # --- steps ----------------------------------------------------------------------

    def _end(self, result: TransactionResult) -> TransactionResult:
        self._state = "done"
        self._result = result
        self._ephemeral = None  # drop ephemeral secrets as soon as they are not needed
        return result

    @staticmethod
    def _check_status(response: bytes) -> bytes:
        apdu = ResponseApdu.parse(response)
        if not apdu.ok:
            raise _Failed("status_word")
        return apdu.data

    def _on_select(self, data: bytes) -> CommandApdu:
        fci = _parsed_fci(data)
        common = [v for v in self._versions if v in fci.versions]
        if not common:
            raise _Failed("unsupported_version")
        self._fci_proprietary = fci.proprietary
        self.max_command, self.max_response = fci.max_command, fci.max_response
        self._version = common[0]
        self._ephemeral = crypto.private_key_from_rng(self._rng)
        self._ephemeral_public = crypto.public_bytes(self._ephemeral)
        self._transaction_id = self._rng(c.TRANSACTION_ID_LEN)
        if len(self._transaction_id) != c.TRANSACTION_ID_LEN:
            raise AliroError("random source returned the wrong length")
        body = Auth0Command(
            flags=self._flags,
            policy=self._policy,
            version=self._version,
            reader_ephemeral=self._ephemeral_public,
            transaction_id=self._transaction_id,
            reader_id=self._identity.reader_id,
            extension=self._extension,
        ).encode()
        self._state = "auth0"
        return CommandApdu(c.CLA_PROPRIETARY, c.INS_AUTH0, 0, 0, body, LE)

    def _on_auth0(self, data: bytes) -> CommandApdu | TransactionResult:
        response = Auth0Response.parse(data)
        extensions = optional_tlv(c.TAG_READER_EXTENSION, self._extension)
        extensions += optional_tlv(c.TAG_DEVICE_EXTENSION, response.extension)
        ctx = crypto.Context(
            reader_key_x=crypto.x_of(self._identity.group_public_key),
            reader_id=self._identity.reader_id,
            version=self._version,
            reader_ephemeral=self._ephemeral_public,
            transaction_id=self._transaction_id,
            flags=self._flags,
            policy=self._policy,
            fci_proprietary=self._fci_proprietary,
            device_ephemeral=response.device_ephemeral,
            interface=self._interface,
            extensions=extensions,
        )
        self._ctx = ctx
        if self._flags == c.FLAGS_FAST and response.cryptogram is not None:
            found = crypto.FastMatcher(ctx).find(
                response.cryptogram,
                (e for e in self._fast_candidates() if e.persistent_key is not None),
                lambda e: (e.public_key, e.persistent_key or b""),
            )
            if found is not None:
                endpoint, keys, plaintext = found
                self._channel = crypto.SecureChannel.for_reader(keys)
                status = CredentialStatus.parse_cryptogram_plaintext(plaintext)
                return self._end(
                    TransactionResult(True, "fast", endpoint.public_key, None, None, status)
                )
        # STANDARD: ECDH of the ephemeral keys (the device's point checked here: FAST never
        # uses it as a point), then prove who we are.
        assert self._ephemeral is not None
        device_public = crypto.load_public_key(response.device_ephemeral)
        self._kdh = crypto.k_dh(crypto.ecdh(self._ephemeral, device_public), self._transaction_id)
        if self._mode == "load":
            assert self._identity.certificate is not None
            self._state = "load_certificate"
            return CommandApdu(
                c.CLA_PROPRIETARY, c.INS_LOAD_CERTIFICATE, 0, 0, self._identity.certificate
            )
        return self._auth1()

    def _on_load_certificate(self, data: bytes) -> CommandApdu:
        if data:
            raise _Failed("protocol_error")
        return self._auth1()

    def _auth1(self) -> CommandApdu:
        assert self._ctx is not None
        signature = self._identity.signer(self._ctx.signed_data(c.READER_USAGE))
        certificate = self._identity.certificate if self._mode == "auth1" else None
        params = c.AUTH1_RETURN_KEY_SLOT if self._lookup_slot else c.AUTH1_RETURN_PUBLIC_KEY
        body = Auth1Command(params, signature, certificate).encode()
        self._state = "auth1"
        return CommandApdu(c.CLA_PROPRIETARY, c.INS_AUTH1, 0, 0, body, LE)

    def _on_auth1(self, data: bytes) -> TransactionResult:
        assert self._ctx is not None
        keys = crypto.standard_keys(self._kdh, self._ctx)
        channel = crypto.SecureChannel.for_reader(keys)
        plaintext = channel.open(data)  # AliroError -> protocol_error
        self._channel = channel  # from here on, failures close by EXCHANGE
        answer = Auth1Response.parse(plaintext)
        if answer.public_key is not None:
            public_key = answer.public_key
            known = self._lookup(public_key)
        else:
            assert answer.key_slot is not None and self._lookup_slot is not None
            known = self._lookup_slot(answer.key_slot)
            if known is None:
                raise _Failed("unknown_key_slot")
            public_key = known.public_key
        device_key = crypto.load_public_key(public_key)
        if not crypto.verify_raw(
            device_key, answer.signature, self._ctx.signed_data(c.DEVICE_USAGE)
        ):
            raise _Failed("bad_signature")
        if known is None or not hmac.compare_digest(known.public_key, public_key):
            raise _Failed("unknown_endpoint", public_key)
        persistent = crypto.persistent_key(self._kdh, self._ctx, public_key)
        return self._end(
            TransactionResult(True, "standard", public_key, persistent, None, answer.status)
        )
