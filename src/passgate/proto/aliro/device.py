"""The user-device side of Aliro 1.0 (what a phone's or watch's secure element does), sans-IO.

States::

    idle --SELECT--> selected --AUTH0--> auth0 --LOAD CERTIFICATE--> certificate
                                           |                               |
                                           +-----------AUTH1---------------+--> auth1
    EXCHANGE is accepted once a secure channel exists (FAST after AUTH0, or after AUTH1);
    CONTROL FLOW, a new SELECT or any refusal return to idle.

``process`` takes one command APDU and always returns one response APDU; a peer's garbage
gets an error status word, never an exception. Command chaining (CLA bit 10) is reassembled
here, and an answer longer than the reader's Le goes out in parts behind 61xx / GET
RESPONSE. Any refusal during authentication drops the transaction's secrets and needs a
new SELECT, so a reader cannot retry AUTH1 against the same ephemeral key.

Trust comes from provisioning only: ``reader_groups`` maps each reader group identifier the
credential was issued for to the group's public key (the key that signs AUTH1 directly, or
that issued the reader certificates). The device never takes a reader key from the reader
unless a certificate signed by that group key vouches for it.

Privacy: before the reader has proved itself the device reveals only an ephemeral key and
a 9D cryptogram that is random bytes unless it shares a persistent key with this group.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.certificate import verify_chain
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import (
    Auth0Command,
    Auth0Response,
    Auth1Command,
    Auth1Response,
    ControlFlow,
    CredentialStatus,
    build_fci,
    optional_tlv,
    parse_fci,
    parse_reader_status,
)
from passgate.proto.apdu import (
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_FILE_NOT_FOUND,
    SW_INCORRECT_P1P2,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WRONG_LENGTH,
    ApduError,
    CommandApdu,
    ResponseApdu,
)

MAX_CHAINED = 4096  # reassembled command data
SW_MALFORMED = 0x6701  # the command's data does not parse
SW_NOT_IN_STATE = 0x6D00  # instruction not expected in this state (also: unknown)
SIGNALING_DEFAULT = b"\x00\x3f"


def _sw(sw: int, data: bytes = b"") -> bytes:
    return ResponseApdu.status(sw, data).encode()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeviceApplet:
    def __init__(
        self,
        credential_private_key: ec.EllipticCurvePrivateKey,
        *,
        reader_groups: Mapping[bytes, bytes],
        persistent_keys: MutableMapping[bytes, bytes],
        rng: crypto.Rng = os.urandom,
        versions: tuple[int, ...] = c.SUPPORTED_VERSIONS,
        extended_length: tuple[int, int] | None = None,
        signaling: bytes = SIGNALING_DEFAULT,
        issued_at: bytes | None = None,
        expires_at: bytes | None = None,
        clock: Callable[[], datetime] = _utcnow,
        signer: crypto.Signer | None = None,
        interface: int = c.INTERFACE_NFC,
    ) -> None:
        if interface not in (c.INTERFACE_NFC, c.INTERFACE_BLE):
            raise AliroError("interface must be 5E (NFC) or C3 (BLE)", field="interface")
        self._interface = interface
        self._sign = signer or crypto.key_signer(credential_private_key)
        self._public = crypto.public_bytes(credential_private_key)
        self._groups = {g: crypto.load_public_key(k) for g, k in reader_groups.items()}
        self._group_x = {g: crypto.x_of(k) for g, k in reader_groups.items()}
        self._persistent = persistent_keys
        self._rng = rng
        self._versions = versions
        self._fci = build_fci(versions, extended_length)
        self._fci_proprietary = parse_fci(self._fci).proprietary
        self._status = CredentialStatus(signaling, issued_at, expires_at)
        self._clock = clock
        self._last_outcome: int | None = None
        self._chain: tuple[int, bytes] | None = None  # (INS, data so far)
        self._pending = b""  # answer bytes still to fetch with GET RESPONSE
        self._reset()

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def fci(self) -> bytes:
        return self._fci

    @property
    def last_outcome(self) -> int | None:
        """The reader status of the last EXCHANGE (None when none was received)."""
        return self._last_outcome

    @property
    def granted(self) -> bool:
        return self._last_outcome is not None and self._last_outcome >> 8 == 0x01

    def _reset(self, state: str = "idle") -> None:
        self._state = state
        self._ephemeral: ec.EllipticCurvePrivateKey | None = None
        self._ctx: crypto.Context | None = None
        self._channel: crypto.SecureChannel | None = None
        self._reader_key: ec.EllipticCurvePublicKey | None = None

    # --- transport: chaining and GET RESPONSE ---------------------------------------------

    def process(self, command: bytes) -> bytes:
        try:
            apdu = CommandApdu.parse(command)
        except ApduError:
            self._chain = None
            return _sw(SW_WRONG_LENGTH)
        if apdu.ins == c.INS_GET_RESPONSE and apdu.cla == c.CLA_ISO:
            return self._get_response(apdu)
        self._pending = b""
        if apdu.cla & c.CLA_CHAINING:
            return self._chain_part(apdu)
        if self._chain is not None:
            ins, head = self._chain
            self._chain = None
            if ins != apdu.ins:
                # Another command ends an unfinished chain (ISO 7816-4): it is dropped and the
                # new command judged on its own, so a reader that lost the device mid-chain
                # (or restarted) can always begin again with SELECT.
                self._reset()
            elif len(head) + len(apdu.data) > MAX_CHAINED:
                self._reset()
                return _sw(SW_WRONG_LENGTH)
            else:
                apdu = CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, head + apdu.data, apdu.le)
        try:
            answer = self._dispatch(apdu)
        except AliroError:
            # Malformed body from the reader: refuse and forget this transaction.
            self._reset()
            return _sw(SW_MALFORMED)
        return self._send(answer, apdu.le)

    def _chain_part(self, apdu: CommandApdu) -> bytes:
        cla = apdu.cla & ~c.CLA_CHAINING
        if cla != c.CLA_PROPRIETARY:
            self._chain = None
            return _sw(SW_CLA_NOT_SUPPORTED)
        ins, head = self._chain if self._chain is not None else (apdu.ins, b"")
        if ins != apdu.ins or len(head) + len(apdu.data) > MAX_CHAINED:
            self._chain = None
            self._reset()
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        self._chain = (ins, head + apdu.data)
        return _sw(SW_OK)

    def _send(self, answer: bytes, le: int | None) -> bytes:
        data, sw = answer[:-2], answer[-2:]
        limit = le or 256
        if sw != b"\x90\x00" or len(data) <= limit:
            return answer
        self._pending = data[limit:]
        return data[:limit] + bytes((0x61, min(len(self._pending), 256) & 0xFF))

    def _get_response(self, apdu: CommandApdu) -> bytes:
        if not self._pending:
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        limit = apdu.le or 256
        part, self._pending = self._pending[:limit], self._pending[limit:]
        if self._pending:
            return part + bytes((0x61, min(len(self._pending), 256) & 0xFF))
        return _sw(SW_OK, part)

    # --- commands ---------------------------------------------------------------------

    def _dispatch(self, apdu: CommandApdu) -> bytes:
        if apdu.cla == c.CLA_ISO and apdu.ins == c.INS_SELECT:
            return self._select(apdu)
        if apdu.cla == c.CLA_ISO and apdu.ins == c.INS_ENVELOPE:
            return _sw(SW_INS_NOT_SUPPORTED)  # the step-up phase is not offered
        if apdu.cla != c.CLA_PROPRIETARY:
            return _sw(SW_CLA_NOT_SUPPORTED)
        if apdu.p1 != 0 or apdu.p2 != 0:
            return _sw(SW_INCORRECT_P1P2)
        handler = {
            c.INS_AUTH0: self._auth0,
            c.INS_LOAD_CERTIFICATE: self._load_certificate,
            c.INS_AUTH1: self._auth1,
            c.INS_EXCHANGE: self._exchange,
            c.INS_CONTROL_FLOW: self._control_flow,
        }.get(apdu.ins)
        if handler is None:
            return _sw(SW_INS_NOT_SUPPORTED)
        return handler(apdu.data)

    def _refuse(self, sw: int) -> bytes:
        self._reset()
        return _sw(sw)

    def _select(self, apdu: CommandApdu) -> bytes:
        self._reset()
        if apdu.p1 != 0x04 or apdu.p2 != 0x00:
            return _sw(SW_INCORRECT_P1P2)
        if apdu.data != c.AID_PRIMARY:
            return _sw(SW_FILE_NOT_FOUND)
        self._last_outcome = None
        self._state = "selected"
        return _sw(SW_OK, self._fci)

    def _auth0(self, data: bytes) -> bytes:
        if self._state != "selected":
            return self._refuse(SW_NOT_IN_STATE)
        cmd = Auth0Command.parse(data)
        if cmd.version not in self._versions:
            return self._refuse(SW_CONDITIONS_NOT_SATISFIED)  # a version we did not offer
        crypto.load_public_key(cmd.reader_ephemeral)  # refuse off-curve points early
        self._ephemeral = crypto.private_key_from_rng(self._rng)
        ephemeral_public = crypto.public_bytes(self._ephemeral)
        group = cmd.reader_id[: c.GROUP_ID_LEN]
        # A group we were never provisioned for gets the same-looking answer and then a
        # refusal at AUTH1: the reader learns nothing before it proves itself.
        reader_x = self._group_x.get(group, bytes(32))
        self._ctx = crypto.Context(
            reader_key_x=reader_x,
            reader_id=cmd.reader_id,
            version=cmd.version,
            reader_ephemeral=cmd.reader_ephemeral,
            transaction_id=cmd.transaction_id,
            flags=cmd.flags,
            policy=cmd.policy,
            fci_proprietary=self._fci_proprietary,
            device_ephemeral=ephemeral_public,
            interface=self._interface,
            extensions=optional_tlv(c.TAG_READER_EXTENSION, cmd.extension),
        )
        cryptogram = None
        if cmd.flags == c.FLAGS_FAST:
            persistent = self._persistent.get(group) if group in self._groups else None
            if persistent is not None:
                keys = crypto.fast_keys(persistent, self._ctx, self._public)
                assert keys.cryptogram is not None
                plaintext = self._status.encode_cryptogram_plaintext()
                cryptogram = crypto.seal_cryptogram(keys.cryptogram, plaintext)
                self._channel = crypto.SecureChannel.for_device(keys)
            else:
                cryptogram = self._rng(c.CRYPTOGRAM_LEN)
        self._state = "auth0"
        return _sw(SW_OK, Auth0Response(ephemeral_public, cryptogram).encode())

    def _load_certificate(self, data: bytes) -> bytes:
        if self._state != "auth0" or self._ctx is None:
            return self._refuse(SW_NOT_IN_STATE)
        issuer = self._groups.get(self._ctx.reader_id[: c.GROUP_ID_LEN])
        if issuer is None:
            return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)
        try:
            self._reader_key = crypto.load_public_key(verify_chain(data, issuer, self._clock()))
        except AliroError:
            return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)
        self._state = "certificate"
        return _sw(SW_OK)

    def _auth1(self, data: bytes) -> bytes:
        if self._state not in ("auth0", "certificate") or self._ctx is None:
            return self._refuse(SW_NOT_IN_STATE)
        assert self._ephemeral is not None
        cmd = Auth1Command.parse(data)
        ctx = self._ctx
        group = ctx.reader_id[: c.GROUP_ID_LEN]
        issuer = self._groups.get(group)
        if issuer is None:
            return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)
        reader_key = self._reader_key or issuer
        if cmd.certificate is not None:
            if self._state == "certificate":
                return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)  # two certificates
            try:
                reader_key = crypto.load_public_key(
                    verify_chain(cmd.certificate, issuer, self._clock())
                )
            except AliroError:
                return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)
        if not crypto.verify_raw(reader_key, cmd.signature, ctx.signed_data(c.READER_USAGE)):
            return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)
        kdh = crypto.k_dh(
            crypto.ecdh(self._ephemeral, crypto.load_public_key(ctx.reader_ephemeral)),
            ctx.transaction_id,
        )
        keys = crypto.standard_keys(kdh, ctx)
        self._channel = crypto.SecureChannel.for_device(keys)
        signature = self._sign(ctx.signed_data(c.DEVICE_USAGE))
        if cmd.params == c.AUTH1_RETURN_PUBLIC_KEY:
            answer = Auth1Response(signature, self._status, public_key=self._public)
        else:
            answer = Auth1Response(signature, self._status, key_slot=crypto.key_slot(self._public))
        # The reader proved itself: keep the persistent key so the next tap can be FAST.
        self._persistent[group] = crypto.persistent_key(kdh, ctx, self._public)
        self._state = "auth1"
        self._ephemeral = None
        return _sw(SW_OK, self._channel.seal(answer.encode()))

    def _exchange(self, data: bytes) -> bytes:
        channel = self._channel
        if channel is None or self._state not in ("auth0", "auth1", "exchange"):
            return self._refuse(SW_NOT_IN_STATE)
        try:
            status = parse_reader_status(channel.open(data))
        except AliroError:
            return self._refuse(SW_SECURITY_STATUS_NOT_SATISFIED)
        self._state = "exchange"
        if status is None:
            # Mailbox operations only: this credential keeps no mailbox.
            return _sw(SW_OK, channel.seal(c.EXCHANGE_MAILBOX_ERROR))
        self._last_outcome = status
        return _sw(SW_OK, channel.seal(c.EXCHANGE_OK))

    def _control_flow(self, data: bytes) -> bytes:
        """Accepted in every state: the reader ends the transaction (S1/S2 say why)."""
        ControlFlow.parse(data)
        self._reset()
        return _sw(SW_OK)
