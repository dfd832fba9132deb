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
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passgate.errors import PassgateError
from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import (
    Auth0Response,
    Auth1Response,
    ControlFlow,
    CredentialStatus,
    Fci,
    parse_fci,
)
from passgate.proto.apdu import CommandApdu, CommandKind
from passgate.proto.tlv import encode_tlv

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


class TransactionResult(NamedTuple):
    """How a transaction ended (a tuple: one is made on every tap)."""

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

_SELECT = CommandApdu(c.CLA_ISO, c.INS_SELECT, 0x04, 0x00, c.AID_PRIMARY, LE)
_FIRST_IV = b"\x00\x00\x00\x01"  # both directions: each side's first channel message
_READER_IV = crypto.READER_TO_DEVICE + _FIRST_IV
_SW_OK = b"\x90\x00"
_USAGE_READER = b"\x93\x04" + c.READER_USAGE
_USAGE_DEVICE = b"\x93\x04" + c.DEVICE_USAGE


# The commands this module makes (P1 P2 00 00), each with its short encoding when it fits.
_AUTH0 = CommandKind(c.CLA_PROPRIETARY, c.INS_AUTH0, LE)
_AUTH1 = CommandKind(c.CLA_PROPRIETARY, c.INS_AUTH1, LE)
_LOAD_CERTIFICATE = CommandKind(c.CLA_PROPRIETARY, c.INS_LOAD_CERTIFICATE, None)
_EXCHANGE = CommandKind(c.CLA_PROPRIETARY, c.INS_EXCHANGE, LE)
_CONTROL_FLOW = CommandKind(c.CLA_PROPRIETARY, c.INS_CONTROL_FLOW, None)
_GRANTED = b"\x97\x02" + c.READER_STATUS_GRANTED.to_bytes(2, "big")  # EXCHANGE plaintext
_tuple = tuple.__new__  # a NamedTuple made without its Python-level __new__
_generate = ec.generate_private_key
_P256 = ec.SECP256R1()
_urandom = os.urandom


@functools.lru_cache(maxsize=64)
def _parsed_fci(data: bytes) -> Fci:
    """A device sends the same FCI on every tap: parse each distinct one once."""
    return parse_fci(data)


@functools.lru_cache(maxsize=8192)
def _credential_key(public_key: bytes) -> ec.EllipticCurvePublicKey:
    """A credential's public key as a key object, loaded (and checked) once per key."""
    return crypto.load_public_key(public_key)


class _Templates:
    """What one reader identity sends the same way every time, made once per identity."""

    def __init__(self, identity: ReaderIdentity) -> None:
        self.reader_id = identity.reader_id
        self.reader_id_tlv = b"\x4d\x20" + self.reader_id
        self.group_x = crypto.x_of(identity.group_public_key)
        cert = identity.certificate
        self.load_certificate = None if cert is None else _LOAD_CERTIFICATE.make(cert)
        self.certificate_tlv = b"" if cert is None else encode_tlv(c.TAG_READER_CERTIFICATE, cert)
        # Made on first use; the FAST path reads them without a call.
        self.salt_heads: dict[tuple[bytes, int, int], bytes] = {}
        self.auth0_heads: dict[tuple[int, int, int], bytes] = {}

    def salt_head(self, label: bytes, interface: int, version: int) -> bytes:
        """salt(label) up to the reader ephemeral key: key X, label, rid, interface, 5C."""
        key = (label, interface, version)
        head = self.salt_heads.get(key)
        if head is None:
            head = self.group_x + label + self.reader_id + bytes((interface, 0x5C, 2))
            head = self.salt_heads[key] = head + version.to_bytes(2, "big")
        return head

    def auth0_head(self, flags: int, policy: int, version: int) -> bytes:
        """AUTH0 data up to the ephemeral key's value: 41, 42, 5C and the 87 header."""
        key = (flags, policy, version)
        head = self.auth0_heads.get(key)
        if head is None:
            head = bytes((0x41, 1, flags, 0x42, 1, policy, 0x5C, 2, version >> 8, version & 0xFF))
            head = self.auth0_heads[key] = head + b"\x87\x41"
        return head


def _templates(identity: ReaderIdentity) -> _Templates:
    made = identity.__dict__.get("_templates")
    if made is None:
        made = identity.__dict__["_templates"] = _Templates(identity)
    return made


def _auth0_answer(data: bytes) -> tuple[bytes, bytes | None, bytes | None]:
    """(device ephemeral key, 9D cryptogram or None, B2 extension or None).

    The two layouts devices send (86 alone; 86 then 9D) are cut by position with every
    length and tag checked; anything else goes through the general TLV parser, which
    refuses it or reads it the same way.
    """
    n = len(data)
    if n == 133 and data[:2] == b"\x86\x41" and data[67:69] == b"\x9d\x40":
        return data[2:67], data[69:], None
    if n == 67 and data[:2] == b"\x86\x41":
        return data[2:], None, None
    answer = Auth0Response.parse(data)
    return answer.device_ephemeral, answer.cryptogram, answer.extension


def _auth1_answer(p: bytes) -> Auth1Response:
    """The decrypted AUTH1 answer ``5A 41 key 9E 40 signature 5E 02 bitmap [91 14] [92 14]``
    cut by position when laid out so; any other layout through the general parser."""
    n = len(p)
    if (
        (n == 137 or n == 181)
        and p[:2] == b"\x5a\x41"
        and p[67:69] == b"\x9e\x40"
        and p[133:135] == b"\x5e\x02"
    ):
        if n == 137:
            return Auth1Response(p[69:133], CredentialStatus(p[135:137]), p[2:67])
        if p[137:139] == b"\x91\x14" and p[159:161] == b"\x92\x14":
            return Auth1Response(
                p[69:133], CredentialStatus(p[135:137], p[139:159], p[161:181]), p[2:67]
            )
    return Auth1Response.parse(p)


class ReaderTransaction:
    __slots__ = (
        "_channel",
        "_device_x",
        "_ephemeral",
        "_extension",
        "_fast_candidates",
        "_finished",
        "_flags",
        "_identity",
        "_info",
        "_interface",
        "_kdh",
        "_lookup",
        "_lookup_slot",
        "_mode",
        "_policy",
        "_reader_x",
        "_result",
        "_rng",
        "_seal_key",
        "_step",
        "_tail",
        "_templates",
        "_transaction_id",
        "_version",
        "_versions",
        "max_command",
        "max_response",
    )
    # Set by the steps before anything reads them (not in __init__: one is made every tap).
    _version: int
    _ephemeral: ec.EllipticCurvePrivateKey | None
    _reader_x: bytes  # X of our ephemeral key
    _device_x: bytes  # X of the device's ephemeral key
    _tail: bytes  # salt after the label's part: reader eph X, tid, 41, 42, A5
    _info: bytes  # HKDF info: device ephemeral X [|| B1/B2 TLVs]
    _kdh: bytes

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
        if interface != c.INTERFACE_NFC and interface != c.INTERFACE_BLE:
            raise AliroError("interface must be 5E (NFC) or C3 (BLE)", field="interface")
        if policy not in c.AUTH_POLICIES:
            raise AliroError("authentication policy must be 01, 02 or 03", field="policy")
        mode = certificate_mode or ("load" if identity.certificate else "none")
        if mode != "none" and identity.certificate is None:
            raise AliroError("a certificate mode needs a reader certificate", field="certificate")
        self._identity = identity
        self._templates = identity.__dict__.get("_templates") or _templates(identity)
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
        self._step: Callable[[bytes], CommandApdu | TransactionResult] | None = None
        self._result: TransactionResult | None = None
        self._finished = False
        self._transaction_id = b""
        self._seal_key: bytes | None = None  # SKReader, once the device proved it has it
        self._channel: crypto.SecureChannel | None = None  # STANDARD: opened the AUTH1 answer
        self.max_command: int | None = None  # the device's 7F66 limits, once known
        self.max_response: int | None = None

    @property
    def result(self) -> TransactionResult | None:
        return self._result

    @property
    def transaction_id(self) -> bytes:
        return self._transaction_id

    def start(self) -> CommandApdu:
        if self._step is not None or self._result is not None:
            raise AliroError("transaction already started")
        self._step = self._on_select
        return _SELECT

    def receive(self, response: bytes) -> CommandApdu | TransactionResult:
        if self._result is not None:
            return self._result
        step = self._step
        if step is None or len(response) < 2:
            return self._end(TransactionResult.failed("protocol_error"))
        if response[-2:] != _SW_OK:
            return self._end(TransactionResult.failed("status_word"))
        try:
            return step(response[:-2])
        except _Failed as failed:
            return self._end(TransactionResult.failed(failed.error, failed.endpoint_public_key))
        except (PassgateError, ValueError):
            # AliroError, TlvError from parsing a peer's bytes, or a ValueError from the
            # crypto library on a malformed value: the peer broke the protocol.
            return self._end(TransactionResult.failed("protocol_error"))

    def finish(self, granted: bool) -> CommandApdu:
        """The closing command: EXCHANGE with the reader status, or CONTROL FLOW."""
        result = self._result
        if result is None:
            raise AliroError("finish() called before the transaction ended")
        if granted and not result.authenticated:
            raise AliroError("cannot grant an unauthenticated transaction")
        if self._finished:
            raise AliroError("finish() already called")
        self._finished = True
        key, self._seal_key, self._channel = self._seal_key, None, None
        if key is not None:
            if granted:
                plain = _GRANTED
            else:
                status = _EXCHANGE_STATUS.get(result.error or "", c.READER_STATUS_DENIED)
                plain = b"\x97\x02" + status.to_bytes(2, "big")
            # The reader's first (and only) message in the channel: counter 1.
            return _EXCHANGE.make(AESGCM(key).encrypt(_READER_IV, plain, None))
        s2 = c.S2_NO_COMMON_VERSION if result.error == "unsupported_version" else c.S2_GENERIC
        return _CONTROL_FLOW.make(ControlFlow(c.S1_FAILURE, s2).encode())

    # --- steps ----------------------------------------------------------------------

    def _end(self, result: TransactionResult) -> TransactionResult:
        self._step = None
        self._result = result
        self._ephemeral = None  # drop ephemeral secrets as soon as they are not needed
        return result

    def _on_select(self, data: bytes) -> CommandApdu:
        fci = _parsed_fci(data)
        offered = fci.versions
        for version in self._versions:
            if version in offered:
                break
        else:
            raise _Failed("unsupported_version")
        self.max_command, self.max_response = fci.max_command, fci.max_response
        self._version = version
        rng = self._rng  # the library makes the key itself from the system's randomness
        eph = _generate(_P256) if rng is _urandom else crypto.private_key_from_rng(rng)
        self._ephemeral = eph
        ephemeral_public = crypto.ephemeral_point(eph)
        tid = self._transaction_id = rng(c.TRANSACTION_ID_LEN)
        if len(tid) != c.TRANSACTION_ID_LEN:
            raise AliroError("random source returned the wrong length")
        flags, policy = self._flags, self._policy
        eph_x = self._reader_x = ephemeral_public[1:33]
        self._tail = eph_x + tid + bytes((flags, policy)) + fci.proprietary
        t = self._templates
        head = t.auth0_heads.get((flags, policy, version)) or t.auth0_head(flags, policy, version)
        body = head + ephemeral_public
        body += b"\x4c\x10" + tid + t.reader_id_tlv
        if self._extension is not None:
            body += encode_tlv(c.TAG_READER_EXTENSION, self._extension)
        self._step = self._on_auth0
        return _AUTH0.make(body)

    def _on_auth0(self, data: bytes) -> CommandApdu | TransactionResult:
        device_ephemeral, cryptogram, device_extension = _auth0_answer(data)
        device_x = self._device_x = device_ephemeral[1:33]
        info = device_x
        if self._extension is not None:
            info += encode_tlv(c.TAG_READER_EXTENSION, self._extension)
        if device_extension is not None:
            info += encode_tlv(c.TAG_DEVICE_EXTENSION, device_extension)
        self._info = info
        if cryptogram is not None and self._flags == c.FLAGS_FAST:
            found = self._find_fast(cryptogram)
            if found is not None:
                return found
        # STANDARD: ECDH of the ephemeral keys (the device's point checked here: FAST never
        # uses it as a point), then prove who we are.
        assert self._ephemeral is not None
        device_public = crypto.load_public_key(device_ephemeral)
        self._kdh = crypto.k_dh(crypto.ecdh(self._ephemeral, device_public), self._transaction_id)
        if self._mode == "load":
            command = self._templates.load_certificate
            assert command is not None
            self._step = self._on_load_certificate
            return command
        return self._auth1()

    def _find_fast(self, cryptogram: bytes) -> TransactionResult | None:
        """Which candidate's Kpersistent made the 9D cryptogram (most recent first).

        Per candidate only CryptogramSK (HKDF-Expand's first block) is made: the salt's
        long common part is hashed once (HMAC hashes a key longer than its block; the
        candidate's key X is the only part that differs) and AES-GCM's tag decides. Of the
        other keys the reader makes SKReader alone: it seals the closing EXCHANGE and
        reads nothing more from the device.
        """
        if len(cryptogram) != c.CRYPTOGRAM_LEN:
            return None
        t, interface, version = self._templates, self._interface, self._version
        salt = t.salt_heads.get((c.LABEL_FAST, interface, version)) or t.salt_head(
            c.LABEL_FAST, interface, version
        )
        salt += self._tail
        prefix = None
        tried = False
        first = self._info + b"\x01"
        digest = hmac.digest
        for endpoint in self._fast_candidates():
            kpersistent = endpoint.persistent_key
            if kpersistent is None:
                continue
            x = endpoint.public_key[1:33]
            if not tried:  # the first candidate: HMAC hashes the long salt itself
                tried = True
                prk = digest(salt + x, kpersistent, "sha256")
            else:  # more: the salt's common part is hashed once, then only X per key
                if prefix is None:
                    prefix = hashlib.sha256(salt)
                h = prefix.copy()
                h.update(x)
                prk = digest(h.digest(), kpersistent, "sha256")
            cryptogram_sk = digest(prk, first, "sha256")
            try:
                p = AESGCM(cryptogram_sk).decrypt(crypto.ZERO_IV, cryptogram, None)
            except InvalidTag:
                continue
            self._seal_key = digest(prk, cryptogram_sk + self._info + b"\x02", "sha256")
            # The plaintext 5E 02 .. 91 14 .. 92 14 .. (48 bytes), cut by position.
            if p[:2] == b"\x5e\x02" and p[4:6] == b"\x91\x14" and p[26:28] == b"\x92\x14":
                status = _tuple(CredentialStatus, (p[2:4], p[6:26], p[28:48]))
            else:
                status = CredentialStatus.parse_cryptogram_plaintext(p)
            # As _end, inline: the transaction is over.
            self._step = self._ephemeral = None
            result = self._result = _tuple(
                TransactionResult, (True, "fast", endpoint.public_key, None, None, status)
            )
            return result
        return None

    def _on_load_certificate(self, data: bytes) -> CommandApdu:
        if data:
            raise _Failed("protocol_error")
        return self._auth1()

    def _signed(self, usage: bytes) -> bytes:
        """What a side signs: ``4D rid, 86 device eph X, 87 reader eph X, 4C tid, 93 usage``."""
        return b"".join(
            (
                self._templates.reader_id_tlv,
                b"\x86\x20",
                self._device_x,
                b"\x87\x20",
                self._reader_x,
                b"\x4c\x10",
                self._transaction_id,
                usage,
            )
        )

    def _auth1(self) -> CommandApdu:
        t = self._templates
        signature = self._identity.signer(self._signed(_USAGE_READER))
        params = c.AUTH1_RETURN_KEY_SLOT if self._lookup_slot else c.AUTH1_RETURN_PUBLIC_KEY
        body = bytes((0x41, 1, params)) + encode_tlv(c.TAG_SIGNATURE, signature)
        if self._mode == "auth1":
            body += t.certificate_tlv
        self._step = self._on_auth1
        return _AUTH1.make(body)

    def _on_auth1(self, data: bytes) -> TransactionResult:
        # HKDF(K_dh, salt("Volatile****"), info): of its five keys the reader uses SKReader
        # (it seals EXCHANGE) and SKDevice (it opens this answer), the first two blocks.
        t = self._templates
        salt = t.salt_head(c.LABEL_VOLATILE, self._interface, self._version) + self._tail
        info = self._info
        prk = hmac.digest(salt, self._kdh, "sha256")
        sk_reader = hmac.digest(prk, info + b"\x01", "sha256")
        sk_device = hmac.digest(prk, sk_reader + info + b"\x02", "sha256")
        channel = crypto.SecureChannel(
            sk_reader, crypto.READER_TO_DEVICE, sk_device, crypto.DEVICE_TO_READER
        )
        plaintext = channel.open(data)  # AliroError -> protocol_error
        self._channel = channel
        self._seal_key = sk_reader  # from here on, failures close by EXCHANGE
        answer = _auth1_answer(plaintext)
        if answer.public_key is not None:
            public_key = answer.public_key
            known = self._lookup(public_key)
        else:
            assert answer.key_slot is not None and self._lookup_slot is not None
            known = self._lookup_slot(answer.key_slot)
            if known is None:
                raise _Failed("unknown_key_slot")
            public_key = known.public_key
        device_key = _credential_key(public_key)
        if not crypto.verify_raw(device_key, answer.signature, self._signed(_USAGE_DEVICE)):
            raise _Failed("bad_signature")
        if known is None or not hmac.compare_digest(known.public_key, public_key):
            raise _Failed("unknown_endpoint", public_key)
        # Kpersistent = HKDF(K_dh, salt("Persistent**") || credential X, info, 32).
        salt = t.salt_head(c.LABEL_PERSISTENT, self._interface, self._version) + self._tail
        prk = hmac.digest(salt + public_key[1:33], self._kdh, "sha256")
        persistent = hmac.digest(prk, info + b"\x01", "sha256")
        return self._end(
            TransactionResult(True, "standard", public_key, persistent, None, answer.status)
        )
