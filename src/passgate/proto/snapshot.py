"""The signed reader-cache format and the reader<->server link messages, sans-IO.

The server keeps every reader's cache current with two kinds of signed frames:

* ``snapshot``: the whole cache content at ``version``;
* ``delta``: the changes that turn the content at ``base_version`` into ``version``.

Content is a JSON object whose values are *sections*. A section that is an object is
diffed key by key (credentials, members); any other value is replaced whole. Each
frame carries the SHA-256 of the canonical content it leads to, so a reader that
applied a delta to the wrong base notices at once instead of drifting silently.

Frames are signed with ECDSA P-256 / SHA-256 (DER) by the organization's snapshot key
over the canonical JSON of the frame without its ``sig`` field. Canonical JSON: keys
sorted, no insignificant whitespace, UTF-8; floats are refused so every peer encodes
the same value to the same bytes.

:class:`CacheState` is the reader's verifier: it rejects bad signatures, frames for
another reader, gaps (``base_version`` is not ours), rollbacks (``version`` not above
ours) and digest mismatches; after any rejection the reader asks for a fresh snapshot.
Versions need not be consecutive, only strictly increasing, which lets the server
derive them from time and survive restarts without storing a counter.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.errors import ValidationError

MAX_FRAME_BYTES = 8 * 1024 * 1024
AUTH_CONTEXT = b"passgate-reader-auth-v1\x00"

Rejection = Literal[
    "malformed", "bad_signature", "wrong_reader", "gap", "rollback", "digest", "replayed"
]


class SnapshotError(ValidationError):
    """A frame or message that does not follow the format."""


def canonical(value: Any) -> bytes:
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"not canonical JSON: {exc}") from exc


def digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(dict(content))).hexdigest()


class DigestMemo:
    """``digest`` for many contents that share section objects, without re-encoding them.

    The server builds a thousand readers' contents from a handful of shared section
    objects (one credentials map per organization, one members map per door). Canonical
    JSON of an object with sorted keys is ``{"k1":v1,"k2":v2,...}``, so the digest can be
    fed section by section: each section value is encoded once per memo (keyed by object
    identity, so a memo must not outlive the pass that filled it), and the hash state
    after the first, largest section is copied instead of re-hashed. The result is
    byte-for-byte ``digest(content)``.
    """

    def __init__(self) -> None:
        self._encoded: dict[int, tuple[Any, bytes]] = {}
        self._prefix: dict[tuple[str, int], tuple[Any, Any]] = {}

    def _encode(self, value: Any) -> bytes:
        if not isinstance(value, (dict, list)):
            return canonical(value)
        found = self._encoded.get(id(value))
        if found is None or found[0] is not value:
            found = (value, canonical(value))  # keeps value alive: its id stays unique
            self._encoded[id(value)] = found
        return found[1]

    def digest(self, content: Mapping[str, Any]) -> str:
        names = sorted(content)
        if not names or not all(isinstance(n, str) for n in names):
            return digest(content)
        first = names[0]
        value = content[first]
        key = (first, id(value))
        found = self._prefix.get(key)
        if found is None or found[0] is not value:
            found = (value, hashlib.sha256(b"{" + canonical(first) + b":" + self._encode(value)))
            self._prefix[key] = found
        h = found[1].copy()
        for name in names[1:]:
            h.update(b"," + canonical(name) + b":" + self._encode(content[name]))
        h.update(b"}")
        return h.hexdigest()


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise SnapshotError("floats are not allowed in cache content")
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, list):
        for item in value:
            _no_floats(item)


# --- keys -----------------------------------------------------------------------------


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def load_public_pem(pem: str, field: str = "public_key") -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise SnapshotError("not a PEM public key", field=field) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SnapshotError("key must be an ECDSA P-256 public key", field=field)
    return key


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SnapshotError("not an EC private key")
    return key


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()


def verify(key: ec.EllipticCurvePublicKey, signature: str, message: bytes) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def auth_message(nonce: str, reader_id: str) -> bytes:
    """What a reader signs at connect: binds the server's fresh nonce to its identity."""
    return AUTH_CONTEXT + nonce.encode() + b"\x00" + reader_id.encode()


# --- diff / apply ---------------------------------------------------------------------


SectionMemo = dict[tuple[int, int], tuple[Any, Any, dict[str, Any], list[str]]]


def _section_diff(
    before: dict[str, Any], value: dict[str, Any], memo: SectionMemo | None
) -> tuple[dict[str, Any], list[str]]:
    key = (id(before), id(value))
    found = memo.get(key) if memo is not None else None
    if found is not None and found[0] is before and found[1] is value:
        return found[2], found[3]
    changed = {k: v for k, v in value.items() if before.get(k, _MISSING) != v}
    removed = sorted(k for k in before if k not in value)
    if memo is not None:
        memo[key] = (before, value, changed, removed)  # holds both: their ids stay unique
    return changed, removed


def diff(
    old: Mapping[str, Any], new: Mapping[str, Any], memo: SectionMemo | None = None
) -> dict[str, Any]:
    """The delta body turning ``old`` into ``new`` (empty sections omitted).

    ``memo`` (one per fan-out pass) shares the work of diffing the same pair of section
    objects for many readers; the bodies it returns share those section diffs, so treat
    them as read-only.
    """
    body: dict[str, Any] = {"set": {}, "unset": {}, "replace": {}, "drop": []}
    for name, value in new.items():
        before = old.get(name, _MISSING)
        if before is value:
            continue  # the same shared section object: nothing to compare (no floats: no NaN)
        if isinstance(value, dict) and isinstance(before, dict):
            changed, removed = _section_diff(before, value, memo)
            if changed:
                body["set"][name] = changed
            if removed:
                body["unset"][name] = removed
        elif before is _MISSING or before != value:
            body["replace"][name] = value
    body["drop"] = sorted(name for name in old if name not in new)
    return body


_MISSING = object()


def same_content(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Equal contents, checked section by section with identity first.

    Shared sections are the same objects when unchanged, so this costs a few pointer
    comparisons per reader instead of a walk over every credential.
    """
    if old is None or len(old) != len(new):
        return False
    for name, value in new.items():
        before = old.get(name, _MISSING)
        if before is not value and before != value:
            return False
    return True


def apply(content: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a delta body; raises SnapshotError on any shape it does not expect."""
    if not isinstance(body, dict) or set(body) != {"set", "unset", "replace", "drop"}:
        raise SnapshotError("delta body must have set, unset, replace and drop", field="body")
    sets, unsets, replaces, drops = body["set"], body["unset"], body["replace"], body["drop"]
    if not (isinstance(sets, dict) and isinstance(unsets, dict) and isinstance(replaces, dict)):
        raise SnapshotError("set, unset and replace must be objects", field="body")
    if not isinstance(drops, list) or not all(isinstance(d, str) for d in drops):
        raise SnapshotError("drop must list section names", field="body.drop")
    result: dict[str, Any] = {
        k: (dict(v) if isinstance(v, dict) else v) for k, v in content.items()
    }
    for name, changes in sets.items():
        section = result.get(name)
        if not isinstance(section, dict) or not isinstance(changes, dict):
            raise SnapshotError("set targets an object section", field=f"body.set.{name}")
        section.update(changes)
    for name, keys in unsets.items():
        section = result.get(name)
        if not isinstance(section, dict) or not isinstance(keys, list):
            raise SnapshotError("unset targets an object section", field=f"body.unset.{name}")
        for key in keys:
            if not isinstance(key, str):
                raise SnapshotError("unset keys are strings", field=f"body.unset.{name}")
            section.pop(key, None)
    result.update(replaces)
    for name in drops:
        result.pop(name, None)
    return result


# --- frames ---------------------------------------------------------------------------


def make_frame(
    key: ec.EllipticCurvePrivateKey,
    *,
    kind: Literal["snapshot", "delta"],
    reader_id: str,
    version: int,
    body: Mapping[str, Any],
    result_digest: str,
    base_version: int | None = None,
    link_nonce: str | None = None,
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": kind,
        "reader_id": reader_id,
        "version": version,
        "digest": result_digest,
        "body": dict(body),
    }
    if kind == "delta":
        frame["base_version"] = base_version
    if link_nonce is not None:
        frame["nonce"] = link_nonce
    frame["sig"] = sign(key, canonical(frame))
    return frame


def make_heartbeat(
    key: ec.EllipticCurvePrivateKey,
    *,
    reader_id: str,
    version: int,
    link_nonce: str,
    seq: int,
    at_ms: int,
) -> dict[str, Any]:
    """The server's signed word that ``version`` is still current, for one connection.

    ``link_nonce`` is the reader's own nonce from this connection's auth message and
    ``seq`` counts this connection's heartbeats, so a heartbeat recorded earlier (another
    connection, or an earlier beat of this one) cannot be replayed to keep a cache that
    misses a revocation looking fresh. ``at_ms`` is the server's clock.
    """
    beat: dict[str, Any] = {
        "type": "heartbeat",
        "reader_id": reader_id,
        "version": version,
        "nonce": link_nonce,
        "seq": seq,
        "at": at_ms,
    }
    beat["sig"] = sign(key, canonical(beat))
    return beat


@dataclass(frozen=True)
class Accepted:
    version: int
    content: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class Rejected:
    reason: Rejection


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class CacheState:
    """The reader's view of its signed cache; feed it frames, it says accept or reject."""

    def __init__(
        self,
        reader_id: str,
        server_key: ec.EllipticCurvePublicKey,
        *,
        version: int = 0,
        content: dict[str, Any] | None = None,
        link_nonce: str | None = None,
    ) -> None:
        self.reader_id = reader_id
        self._key = server_key
        self.version = version
        self.content: dict[str, Any] | None = content
        # The nonce this reader sent for the current connection: frames and heartbeats
        # must carry it (None: frames are checked without it, heartbeats never confirm).
        self.link_nonce = link_nonce
        self._beat_seq = -1
        self._beat_at = -1

    def receive(self, frame: Any) -> Accepted | Rejected:
        """Never raises for any JSON value; state changes only on acceptance."""
        if not isinstance(frame, dict) or frame.get("type") not in ("snapshot", "delta"):
            return Rejected("malformed")
        sig = frame.get("sig")
        version = frame.get("version")
        body = frame.get("body")
        if not isinstance(version, int) or not _int(version):
            return Rejected("malformed")
        if not isinstance(sig, str) or not isinstance(body, dict):
            return Rejected("malformed")
        if not isinstance(frame.get("digest"), str):
            return Rejected("malformed")
        unsigned = {k: v for k, v in frame.items() if k != "sig"}
        try:
            message = canonical(unsigned)
        except SnapshotError:
            return Rejected("malformed")
        if not verify(self._key, sig, message):
            return Rejected("bad_signature")
        if frame.get("reader_id") != self.reader_id:
            return Rejected("wrong_reader")
        if self.link_nonce is not None and frame.get("nonce") != self.link_nonce:
            return Rejected("replayed")  # signed for another connection
        if version <= self.version:
            return Rejected("rollback")
        try:
            if frame["type"] == "snapshot":
                _no_floats(body)
                content = body
            else:
                if frame.get("base_version") != self.version or self.content is None:
                    return Rejected("gap")
                content = apply(self.content, body)
                _no_floats(content)
            result_digest = digest(content)
        except SnapshotError:
            return Rejected("malformed")
        if result_digest != frame["digest"]:
            return Rejected("digest")
        self.version = version
        self.content = content
        return Accepted(version, content, result_digest)

    def confirms(self, frame: Any) -> bool:
        """A signed heartbeat of this connection saying our version is still the server's.

        It must carry our connection nonce, a higher sequence than the last one taken and
        a server time no earlier than it: a replayed heartbeat confirms nothing.
        """
        if not isinstance(frame, dict) or frame.get("type") != "heartbeat":
            return False
        sig, seq, at = frame.get("sig"), frame.get("seq"), frame.get("at")
        if not isinstance(sig, str) or frame.get("reader_id") != self.reader_id:
            return False
        if self.link_nonce is None or frame.get("nonce") != self.link_nonce:
            return False
        if not (isinstance(seq, int) and isinstance(at, int) and _int(seq) and _int(at)):
            return False
        if seq <= self._beat_seq or at < self._beat_at:
            return False
        try:
            message = canonical({k: v for k, v in frame.items() if k != "sig"})
        except SnapshotError:
            return False
        if not verify(self._key, sig, message) or frame.get("version") != self.version:
            return False
        self._beat_seq, self._beat_at = seq, at
        return True


# --- link messages --------------------------------------------------------------------

# Message type -> required fields and their types; anything else is a protocol error.
_SCHEMAS: dict[str, dict[str, type | tuple[type, ...]]] = {
    # server -> reader
    "challenge": {"nonce": str},
    "heartbeat": {"version": int, "nonce": str, "seq": int, "at": int},
    "ack": {"sequences": list},
    "error": {"code": str},
    "aliro_certificate": {"group_identifier": str, "group_public_key": str, "certificate": str},
    # reader -> server
    "auth": {"reader_id": str, "signature": str, "version": int, "status": dict},
    "events": {"items": list},
    "resync": {"reason": str},
    "status": {"status": dict},
    "aliro_key": {"public_key": str},  # a new Aliro key asks for its certificate
    "ping": {},
}


def encode_message(message: Mapping[str, Any]) -> str:
    return canonical(dict(message)).decode()


def parse_message(text: str | bytes) -> dict[str, Any]:
    """Decode one link message; SnapshotError for anything malformed (never other errors)."""
    if len(text) > MAX_FRAME_BYTES:
        raise SnapshotError("message too large", field="message")
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SnapshotError("message is not JSON", field="message") from exc
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise SnapshotError("message must be an object with a type", field="type")
    kind = value["type"]
    if kind in ("snapshot", "delta"):
        return value  # checked by CacheState, signature first
    schema = _SCHEMAS.get(kind)
    if schema is None:
        raise SnapshotError("unknown message type", field="type")
    for name, expected in schema.items():
        item = value.get(name)
        if not isinstance(item, expected) or isinstance(item, bool):
            raise SnapshotError(f"{name} has the wrong type", field=name)
    return value
