"""The user-device side (what a phone or watch secure-element applet does), sans-IO.

States::

    idle --SELECT primary--> selected --AUTH0--> auth0 --AUTH1--> auth1
      ^                                                              |
      +------------- CONTROL FLOW, any SELECT, or any refusal -------+

``process`` takes one command APDU and always returns one response APDU; a peer's garbage
gets an error status word, never an exception. Any refusal during authentication drops the
transaction's ephemeral secrets and requires a new SELECT, so a reader cannot retry AUTH1
against the same ephemeral key.

Privacy, as the write-up describes: before the reader has proved itself the device reveals
only an ephemeral key and a 9D cryptogram that is random bytes unless the device shares a
persistent key with this reader group. Its long-term key leaves only inside the secure
channel, after the reader's signature verified.

Our choices: the device verifies the reader's signature against the key the reader names
in AUTH1 (tag 5A), after asking ``reader_verifier(group id, key)`` whether that key is
trusted for the group; with no verifier it trusts any reader key (tests and demos only).
With AUTH1 flag 00 it answers tag 4E = the first 8 bytes of SHA-256 of its public key.
LOAD CERTIFICATE, EXCHANGE, ENVELOPE, GET RESPONSE and the step-up applet are not
implemented: they answer 6D00 / 6A82.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, MutableMapping

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import (
    Auth0Command,
    Auth0Response,
    Auth1Command,
    Auth1Payload,
    ControlFlow,
    build_fci,
)
from passgate.proto.apdu import (
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_FILE_NOT_FOUND,
    SW_INCORRECT_P1P2,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    ApduError,
    CommandApdu,
    ResponseApdu,
)

ReaderVerifier = Callable[[bytes, bytes], bool]


def _sw(sw: int, data: bytes = b"") -> bytes:
    return ResponseApdu.status(sw, data).encode()


class DeviceApplet:
    def __init__(
        self,
        credential_private_key: ec.EllipticCurvePrivateKey,
        *,
        persistent_keys: MutableMapping[bytes, bytes],
        rng: crypto.Rng = os.urandom,
        reader_verifier: ReaderVerifier | None = None,
        versions: tuple[int, ...] = c.SUPPORTED_VERSIONS,
    ) -> None:
        self._key = credential_private_key
        self._public = crypto.public_bytes(credential_private_key)
        self._persistent = persistent_keys
        self._rng = rng
        self._verifier = reader_verifier
        self._versions = versions
        self._fci = build_fci(versions)
        self._last_outcome: bool | None = None
        self._reset()

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def last_outcome(self) -> bool | None:
        """What the last CONTROL FLOW said: True granted, False denied, None not told."""
        return self._last_outcome

    def _reset(self, state: str = "idle") -> None:
        self._state = state
        self._ephemeral: ec.EllipticCurvePrivateKey | None = None
        self._ctx: crypto.TransactionContext | None = None
        self._channel: crypto.SecureChannel | None = None

    def process(self, command: bytes) -> bytes:
        try:
            apdu = CommandApdu.parse(command)
        except ApduError:
            return _sw(SW_WRONG_LENGTH)
        try:
            return self._dispatch(apdu)
        except AliroError:
            # Malformed body from the reader: refuse and forget this transaction.
            self._reset()
            return _sw(SW_WRONG_DATA)

    def _dispatch(self, apdu: CommandApdu) -> bytes:
        if apdu.cla == c.CLA_ISO and apdu.ins == c.INS_SELECT:
            return self._select(apdu)
        if apdu.cla == c.CLA_ISO and apdu.ins in (c.INS_ENVELOPE, c.INS_GET_RESPONSE):
            return _sw(SW_INS_NOT_SUPPORTED)
        if apdu.cla != c.CLA_PROPRIETARY:
            return _sw(SW_CLA_NOT_SUPPORTED)
        if apdu.ins == c.INS_AUTH0:
            return self._auth0(apdu.data)
        if apdu.ins == c.INS_AUTH1:
            return self._auth1(apdu.data)
        if apdu.ins == c.INS_CONTROL_FLOW:
            return self._control_flow(apdu.data)
        return _sw(SW_INS_NOT_SUPPORTED)

    def _select(self, apdu: CommandApdu) -> bytes:
        self._reset()
        if apdu.p1 != 0x04:
            return _sw(SW_INCORRECT_P1P2)
        if apdu.data != c.AID_PRIMARY:
            return _sw(SW_FILE_NOT_FOUND)
        self._last_outcome = None
        self._state = "selected"
        return _sw(SW_OK, self._fci)

    def _auth0(self, data: bytes) -> bytes:
        if self._state != "selected":
            self._reset()
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        cmd = Auth0Command.parse(data)
        if cmd.version not in self._versions or cmd.flags not in (
            c.FLAG_STANDARD_ONLY,
            c.FLAG_TRY_FAST,
        ):
            raise AliroError("unsupported version or flags", field="AUTH0")
        crypto.load_public_key(cmd.reader_ephemeral)  # refuse off-curve points early
        self._ephemeral = crypto.private_key_from_rng(self._rng)
        ephemeral_public = crypto.public_bytes(self._ephemeral)
        self._ctx = crypto.TransactionContext(
            reader_id=cmd.reader_id,
            reader_ephemeral=cmd.reader_ephemeral,
            device_ephemeral=ephemeral_public,
            transaction_id=cmd.transaction_id,
            version=cmd.version,
            flags=cmd.flags,
            transaction_code=cmd.transaction_code,
            fci=self._fci,
        )
        cryptogram = None
        if cmd.flags == c.FLAG_TRY_FAST:
            persistent = self._persistent.get(self._group_id)
            if persistent is not None:
                cryptogram = crypto.fast_cryptogram(persistent, self._ctx.encode())
            else:
                # Same length and look as a real cryptogram: a reader we never met cannot
                # tell whether we know its group, nor track us across taps.
                cryptogram = self._rng(c.CRYPTOGRAM_LEN)
        self._state = "auth0"
        return _sw(SW_OK, Auth0Response(ephemeral_public, cryptogram).encode())

    @property
    def _group_id(self) -> bytes:
        assert self._ctx is not None
        return self._ctx.reader_id[: c.GROUP_ID_LEN]

    def _auth1(self, data: bytes) -> bytes:
        if self._state != "auth0" or self._ctx is None or self._ephemeral is None:
            self._reset()
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        cmd = Auth1Command.parse(data)
        ctx = self._ctx
        if cmd.reader_public_key is None or cmd.flags not in (
            c.AUTH1_RETURN_IDENTIFIER,
            c.AUTH1_RETURN_PUBLIC_KEY,
        ):
            self._reset()
            return _sw(SW_SECURITY_STATUS_NOT_SATISFIED)
        if self._verifier is not None and not self._verifier(self._group_id, cmd.reader_public_key):
            self._reset()
            return _sw(SW_SECURITY_STATUS_NOT_SATISFIED)
        reader_key = crypto.load_public_key(cmd.reader_public_key)
        if not crypto.verify_raw(reader_key, cmd.signature, crypto.reader_signing_input(ctx)):
            self._reset()
            return _sw(SW_SECURITY_STATUS_NOT_SATISFIED)
        shared = crypto.ecdh(self._ephemeral, crypto.load_public_key(ctx.reader_ephemeral))
        keys = crypto.derive_standard_keys(shared, ctx.transaction_id, ctx.encode())
        self._channel = crypto.SecureChannel.for_device(keys)
        signature = crypto.sign_raw(self._key, crypto.device_signing_input(ctx))
        if cmd.flags == c.AUTH1_RETURN_PUBLIC_KEY:
            payload = Auth1Payload(signature, self._public, None)
        else:
            device_id = hashlib.sha256(self._public).digest()[: c.DEVICE_ID_LEN]
            payload = Auth1Payload(signature, None, device_id)
        # The reader proved itself: remember the shared key so the next tap can be FAST.
        self._persistent[self._group_id] = keys.persistent
        self._state = "auth1"
        self._ephemeral = None
        return _sw(SW_OK, self._channel.seal(payload.encode()))

    def _control_flow(self, data: bytes) -> bytes:
        if self._state == "idle":
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        cmd = ControlFlow.parse(data)
        if cmd.status is not None:
            self._last_outcome = cmd.status == c.STATUS_GRANTED
        self._reset()
        return _sw(SW_OK)
