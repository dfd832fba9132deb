"""The signed reader-cache format, sans-IO (the link's other messages: proto/link.py).

The server keeps every reader's cache current with two kinds of signed frames:

* ``snapshot``: the whole cache content at ``version``;
* ``delta``: the changes that turn the content at ``base_version`` into ``version``.

Content is a JSON object whose values are *sections*. A section that is an object is
diffed key by key (credentials, members); any other value is replaced whole. Each
frame carries the digest of the content it leads to, so a reader that applied a delta
to the wrong base notices at once instead of drifting silently. The digest is a sum
modulo 2**256 of one SHA-256 per row (and per whole-value section), so both sides
update it in O(changed rows) when a delta arrives instead of re-encoding the whole
cache; it is a drift detector, not the authenticity check (the signature is).

A snapshot too large for one frame travels in parts: the ``snapshot`` frame carries
the whole-value sections, the first rows and ``parts``; ``snapshot_part`` frames carry
the remaining rows of the object sections, each signed and bound to the reader, the
connection nonce, the version and its index. The reader assembles them and accepts the
snapshot only when the last part arrived and the digest matches.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.errors import ValidationError

MAX_FRAME_BYTES = 8 * 1024 * 1024
AUTH_CONTEXT = b"passgate-reader-auth-v1\x00"
SHARED_CONTEXT = b"passgate-reader-shared-delta-v1\x00"
_STATEMENT_KEYS = frozenset({"org", "base_version", "version", "base", "body"})

Rejection = Literal[
    "malformed",
    "bad_signature",
    "wrong_reader",
    "gap",
    "rollback",
    "digest",
    "replayed",
    "unusable",
]
ROWS_PER_PART = 2000  # rows of a snapshot part: about half a megabyte of credentials


class SnapshotError(ValidationError):
    """A frame or message that does not follow the format."""


# One encoder for every canonical encoding: json.dumps with these options builds a new
# JSONEncoder on each call (about 1 µs; a reader checks several encodings per frame).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical(value: Any) -> bytes:
    try:
        return _CANONICAL.encode(value).encode()
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"not canonical JSON: {exc}") from exc


_MOD = 1 << 256


def _h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"\x00".join(parts)).digest(), "big")


def row_hash(section: str, key: str, value: Any) -> int:
    """One row's share of the digest (a key of an object section)."""
    return _h(b"row", section.encode(), key.encode(), canonical(value))


def section_hash(name: str, value: Any) -> int:
    """A whole section's share of the digest: its rows' sum, or its value's hash."""
    if isinstance(value, dict):
        total = _h(b"obj", name.encode())
        for key, item in value.items():
            if not isinstance(key, str):
                raise SnapshotError("section keys must be strings", field=name)
            total += row_hash(name, key, item)
        return total % _MOD
    return _h(b"val", name.encode(), canonical(value))


def format_digest(total: int) -> str:
    return f"{total % _MOD:064x}"


def digest(content: Mapping[str, Any]) -> str:
    if not all(isinstance(name, str) for name in content):
        raise SnapshotError("section names must be strings", field="body")
    return format_digest(sum(section_hash(n, v) for n, v in content.items()))


class SectionSums:
    """Digest shares of section objects, kept across passes (the server's side).

    The server hands many readers the same section objects; each object's share is
    computed once. When a section object replaces an older one of the same kind, its
    share is derived from the older share and the rows that differ (``derive``), so a
    change to one credential of 100,000 costs a few hashes, not 100,000.
    """

    def __init__(self) -> None:
        self._sums: dict[int, tuple[Any, int]] = {}

    def of(self, name: str, value: Any) -> int:
        found = self._sums.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        total = section_hash(name, value)
        self._remember(value, total)
        return total

    def _remember(self, value: Any, total: int) -> None:
        if isinstance(value, (dict, list)):
            self._sums[id(value)] = (value, total)  # holds value: its id stays unique

    def derive(self, name: str, before: dict[str, Any], after: dict[str, Any]) -> int:
        """``after``'s share from ``before``'s (known or computed) and their row diff."""
        found = self._sums.get(id(after))
        if found is not None and found[0] is after:
            return found[1]
        total = self.of(name, before)
        for key, value in after.items():
            old = before.get(key, _MISSING)
            if old is _MISSING:
                total += row_hash(name, key, value)
            elif old is not value and old != value:
                total += row_hash(name, key, value) - row_hash(name, key, old)
        for key, old in before.items():
            if key not in after:
                total -= row_hash(name, key, old)
        total %= _MOD
        self._remember(after, total)
        return total

    def digest(self, content: Mapping[str, Any]) -> str:
        return format_digest(sum(self.of(n, v) for n, v in content.items()))

    def keep_only(self, contents: Iterable[Mapping[str, Any]]) -> None:
        """Forget every object no content in ``contents`` still holds."""
        alive = {id(v) for content in contents for v in content.values()}
        self._sums = {k: v for k, v in self._sums.items() if k in alive}


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


def _checked(body: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    if not isinstance(body, dict) or set(body) != {"set", "unset", "replace", "drop"}:
        raise SnapshotError("delta body must have set, unset, replace and drop", field="body")
    sets, unsets, replaces, drops = body["set"], body["unset"], body["replace"], body["drop"]
    if not (isinstance(sets, dict) and isinstance(unsets, dict) and isinstance(replaces, dict)):
        raise SnapshotError("set, unset and replace must be objects", field="body")
    if not isinstance(drops, list) or not all(isinstance(d, str) for d in drops):
        raise SnapshotError("drop must list section names", field="body.drop")
    return sets, unsets, replaces, drops


def delta_sums(
    content: Mapping[str, Any], sums: Mapping[str, int], body: Any
) -> dict[str, int | None]:
    """The digest shares of the sections ``body`` touches, after it (None: dropped).

    Checks the body's shape against ``content`` like :func:`apply` and costs
    O(changed rows) plus the size of replaced sections; nothing is modified.
    """
    sets, unsets, replaces, drops = _checked(body)
    out: dict[str, int | None] = {}
    for name in {*sets, *unsets}:
        section = content.get(name)
        changes = sets.get(name, {})
        keys = unsets.get(name, [])
        if not isinstance(section, dict) or not isinstance(changes, dict):
            raise SnapshotError("set targets an object section", field=f"body.set.{name}")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise SnapshotError("unset targets an object section", field=f"body.unset.{name}")
        total = sums[name] if name in sums else section_hash(name, section)
        for key, value in changes.items():
            if not isinstance(key, str):
                raise SnapshotError("set keys are strings", field=f"body.set.{name}")
            if key in section:
                total -= row_hash(name, key, section[key])
            total += row_hash(name, key, value)
        for key in dict.fromkeys(keys):  # a key listed twice goes once
            if key in changes:
                total -= row_hash(name, key, changes[key])
            elif key in section:
                total -= row_hash(name, key, section[key])
        out[name] = total % _MOD
    for name, value in replaces.items():
        out[name] = section_hash(name, value)
    for name in drops:
        out[name] = None
    return out


def apply_in_place(content: dict[str, Any], body: Any) -> None:
    """Apply a delta body to ``content`` itself, changing only the rows it names.

    Check the body first (:func:`delta_sums`): a body that fails halfway leaves
    ``content`` partly changed.
    """
    sets, unsets, replaces, drops = _checked(body)
    for name, changes in sets.items():
        section = content.get(name)
        if not isinstance(section, dict) or not isinstance(changes, dict):
            raise SnapshotError("set targets an object section", field=f"body.set.{name}")
        section.update(changes)
    for name, keys in unsets.items():
        section = content.get(name)
        if not isinstance(section, dict) or not isinstance(keys, list):
            raise SnapshotError("unset targets an object section", field=f"body.unset.{name}")
        for key in keys:
            if not isinstance(key, str):
                raise SnapshotError("unset keys are strings", field=f"body.unset.{name}")
            section.pop(key, None)
    content.update(replaces)
    for name in drops:
        content.pop(name, None)


def apply(content: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a delta body to a copy; raises SnapshotError on any shape it does not expect."""
    result: dict[str, Any] = {
        k: (dict(v) if isinstance(v, dict) else v) for k, v in content.items()
    }
    apply_in_place(result, body)
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
    parts: int | None = None,
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
    if parts is not None and parts > 1:
        frame["parts"] = parts
    frame["sig"] = sign(key, canonical(frame))
    return frame


def snapshot_frames(
    key: ec.EllipticCurvePrivateKey,
    *,
    reader_id: str,
    version: int,
    content: Mapping[str, Any],
    result_digest: str,
    link_nonce: str | None = None,
    rows_per_part: int = ROWS_PER_PART,
) -> list[dict[str, Any]]:
    """A snapshot as one ``snapshot`` frame and as many ``snapshot_part`` frames as needed.

    The first frame holds every whole-value section and each object section's first
    rows (an empty object when it has none), each part up to ``rows_per_part`` further
    rows; one signature per frame, so a 100,000-credential cache costs some fifty.
    """
    rows_per_part = max(1, rows_per_part)
    chunks: list[dict[str, dict[str, Any]]] = [{}]
    count = 0
    head: dict[str, Any] = {}
    for name, value in content.items():
        if not isinstance(value, dict):
            head[name] = value
            continue
        head[name] = {}
        for row_key, row in value.items():
            if count == rows_per_part:
                chunks.append({})
                count = 0
            chunks[-1].setdefault(name, {})[row_key] = row
            count += 1
    head.update(chunks[0])
    first = make_frame(
        key,
        kind="snapshot",
        reader_id=reader_id,
        version=version,
        body=head,
        result_digest=result_digest,
        link_nonce=link_nonce,
        parts=len(chunks),
    )
    frames = [first]
    for index, rows in enumerate(chunks[1:], start=1):
        part: dict[str, Any] = {
            "type": "snapshot_part",
            "reader_id": reader_id,
            "version": version,
            "index": index,
            "body": rows,
        }
        if link_nonce is not None:
            part["nonce"] = link_nonce
        part["sig"] = sign(key, canonical(part))
        frames.append(part)
    return frames


def shared_statement(
    *,
    org_id: str,
    base_version: int,
    version: int,
    base: Mapping[str, int],
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """What one signature vouches for, for every reader in the same state.

    "Content whose sections ``base`` have these digest shares at ``base_version``
    becomes, at ``version``, the result of ``body``" (the body by its SHA-256). It names
    every section whose rows the body changes, so it fits exactly the readers holding
    those very rows; whole-value sections it replaces need no base.
    """
    return {
        "org": org_id,
        "base_version": base_version,
        "version": version,
        "base": {name: format_digest(share) for name, share in sorted(base.items())},
        "body": hashlib.sha256(canonical(dict(body))).hexdigest(),
    }


def sign_statement(key: ec.EllipticCurvePrivateKey, statement: Mapping[str, Any]) -> str:
    return sign(key, SHARED_CONTEXT + canonical(dict(statement)))


def shared_delta(
    statement: Mapping[str, Any],
    signature: str,
    *,
    reader_id: str,
    body: Mapping[str, Any],
    link_nonce: str | None = None,
) -> dict[str, Any]:
    """A ``shared_delta`` frame for one reader: the shared statement, its one signature
    and the body; ``reader_id`` and ``nonce`` only route it (they are not signed)."""
    frame: dict[str, Any] = {
        "type": "shared_delta",
        "reader_id": reader_id,
        "version": statement["version"],
        "body": dict(body),
        "statement": dict(statement),
        "sig": signature,
    }
    if link_nonce is not None:
        frame["nonce"] = link_nonce
    return frame


class SharedDeltaText:
    """The text of one shared statement's ``shared_delta`` frame, encoded once for every
    reader it goes to: :meth:`for_reader` puts in the two routing fields.

    The frame is canonical JSON, keys sorted: ``body`` first, then ``nonce`` and
    ``reader_id`` (the per-reader part), then ``sig``, ``statement``, ``type`` and
    ``version``, which are the same for every reader. So the frame of reader R is the
    head, R's fields and the tail; the text is exactly ``canonical(shared_delta(...))``
    (tests/proto/test_shared_delta.py holds the two equal).
    """

    __slots__ = ("_head", "_tail")

    def __init__(self, statement: Mapping[str, Any], signature: str, body: Mapping[str, Any]):
        self._head = '{"body":' + canonical(dict(body)).decode()
        rest = canonical(
            {
                "sig": signature,
                "statement": dict(statement),
                "type": "shared_delta",
                "version": statement["version"],
            }
        ).decode()
        self._tail = "," + rest[1:]  # its keys sort after reader_id: '{"sig":...' -> ',"sig":...'

    def for_reader(self, reader_id: str, link_nonce: str | None = None) -> str:
        return self.routed(routing_text(reader_id, link_nonce))

    def routed(self, routing: str) -> str:
        """The frame for the reader whose :func:`routing_text` is ``routing`` (a
        connection's routing never changes, so the hub encodes it once per connection)."""
        return self._head + routing + self._tail


def routing_text(reader_id: str, link_nonce: str | None = None) -> str:
    """One reader's part of a shared delta's frame text: its ``nonce`` and ``reader_id``."""
    ids = _CANONICAL.encode(reader_id)
    if link_nonce is None:
        return f',"reader_id":{ids}'
    return f',"nonce":{_CANONICAL.encode(link_nonce)},"reader_id":{ids}'


_BEAT_TAIL = b',"type":"heartbeat","version":'


def heartbeat_text(
    key: ec.EllipticCurvePrivateKey,
    *,
    reader_id: str,
    version: int,
    link_nonce: str,
    seq: int,
    at_ms: int,
) -> str:
    """The server's signed word that ``version`` is still current, for one connection,
    as its frame text.

    ``link_nonce`` is the reader's own nonce from this connection's auth message and
    ``seq`` counts this connection's heartbeats, so a heartbeat recorded earlier (another
    connection, or an earlier beat of this one) cannot be replayed to keep a cache that
    misses a revocation looking fresh. ``at_ms`` is the server's clock.

    One JSON encoding, not two: the signed message is the canonical JSON of the
    heartbeat without ``sig``; its keys are sorted, so ``sig`` goes right before
    ``type`` (the last two keys, after ``seq`` whose value is an integer), and the frame
    is that message with ``,"sig":"..."`` put in. Strings in JSON carry no unescaped
    quote, so the last ``,"type":"heartbeat",`` is the key itself. The text is exactly
    the canonical JSON of the signed heartbeat object.
    """
    message = canonical(
        {
            "type": "heartbeat",
            "reader_id": reader_id,
            "version": version,
            "nonce": link_nonce,
            "seq": seq,
            "at": at_ms,
        }
    )
    cut = message.rfind(_BEAT_TAIL)
    signature = sign(key, message)
    return (message[:cut] + b',"sig":"' + signature.encode() + b'"' + message[cut:]).decode()


@dataclass(frozen=True)
class Accepted:
    """A frame taken: the content now held, and for a delta the body that changed it."""

    version: int
    content: dict[str, Any]
    digest: str
    changes: dict[str, Any] | None = None  # None: a (complete) snapshot


@dataclass(frozen=True)
class Pending:
    """A part of a snapshot in parts was taken; the snapshot is not complete yet."""

    version: int
    received: int
    parts: int


@dataclass(frozen=True)
class Rejected:
    reason: Rejection


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# Checks a snapshot's full content, or a delta body against the current content, before
# either is taken; a ValidationError rejects the frame as "unusable".
Validator = Callable[[Mapping[str, Any], "dict[str, Any] | None"], None]


@dataclass
class _Assembly:
    version: int
    digest: str
    parts: int
    content: dict[str, Any]
    next_index: int = 1


class CacheState:
    """The reader's view of its signed cache; feed it frames, it says accept or reject.

    A delta changes the held content in place, row by row, and its digest is updated
    from the rows it names: the cost of a delta is the size of the delta, whatever the
    size of the cache.
    """

    def __init__(
        self,
        reader_id: str,
        server_key: ec.EllipticCurvePublicKey,
        *,
        version: int = 0,
        content: dict[str, Any] | None = None,
        link_nonce: str | None = None,
        validate: Validator | None = None,
    ) -> None:
        self.reader_id = reader_id
        self._key = server_key
        self.version = version
        self.content: dict[str, Any] | None = content
        self._sums: dict[str, int] = {}
        if content is not None:
            try:
                self._sums = {n: section_hash(n, v) for n, v in content.items()}
            except SnapshotError:
                self.content, self.version = None, 0
        # The nonce this reader sent for the current connection: frames and heartbeats
        # must carry it (None: frames are checked without it, heartbeats never confirm).
        self.link_nonce = link_nonce
        self._validate = validate
        self._assembly: _Assembly | None = None
        self._beat_seq = -1
        self._beat_at = -1

    def _verify(self, sig: str, message: bytes) -> bool:
        """The server key's signature check (a subclass may memoize identical frames)."""
        return verify(self._key, sig, message)

    def _apply(self, body: dict[str, Any], sums: dict[str, int | None]) -> None:
        """Apply an accepted delta to the held content; ``sums`` are the new section
        hashes of the sections it changes (None: removed). The agent changes its
        content in place; a holder that shares sections between readers may copy."""
        assert self.content is not None
        apply_in_place(self.content, body)

    @property
    def digest(self) -> str | None:
        """The digest of the content held (None: none), as a frame would carry it."""
        if self.content is None:
            return None
        return format_digest(sum(self._sums.values()))

    def _signed(self, frame: dict[str, Any]) -> Rejected | None:
        sig = frame.get("sig")
        if not isinstance(sig, str):
            return Rejected("malformed")
        try:
            message = canonical({k: v for k, v in frame.items() if k != "sig"})
        except SnapshotError:
            return Rejected("malformed")
        if not self._verify(sig, message):
            return Rejected("bad_signature")
        if frame.get("reader_id") != self.reader_id:
            return Rejected("wrong_reader")
        if self.link_nonce is not None and frame.get("nonce") != self.link_nonce:
            return Rejected("replayed")  # signed for another connection
        return None

    def receive(self, frame: Any) -> Accepted | Pending | Rejected:
        """Never raises for any JSON value; state changes only on acceptance.

        Any rejection also abandons a snapshot being assembled.
        """
        verdict = self._receive(frame)
        if isinstance(verdict, Rejected):
            self._assembly = None
        return verdict

    def _receive(self, frame: Any) -> Accepted | Pending | Rejected:
        if not isinstance(frame, dict):
            return Rejected("malformed")
        kind = frame.get("type")
        if kind not in ("snapshot", "delta", "snapshot_part", "shared_delta"):
            return Rejected("malformed")
        version = frame.get("version")
        body = frame.get("body")
        if not _int(version) or not isinstance(body, dict):
            return Rejected("malformed")
        assert isinstance(version, int)
        if kind == "shared_delta":
            return self._shared(frame, version, body)
        if kind != "snapshot_part" and not isinstance(frame.get("digest"), str):
            return Rejected("malformed")
        bad = self._signed(frame)
        if bad is not None:
            return bad
        if kind == "snapshot_part":
            return self._part(frame, version, body)
        if version <= self.version:
            return Rejected("rollback")
        self._assembly = None  # a new snapshot or a delta ends an unfinished snapshot
        try:
            _no_floats(body)
            if kind == "snapshot":
                parts = frame.get("parts", 1)
                if not _int(parts) or parts < 1:
                    return Rejected("malformed")
                content = {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}
                if parts > 1:
                    self._assembly = _Assembly(version, frame["digest"], parts, content)
                    return Pending(version, 1, parts)
                return self._take_snapshot(version, content, frame["digest"])
            if frame.get("base_version") != self.version or self.content is None:
                return Rejected("gap")
            sums = delta_sums(self.content, self._sums, body)
        except SnapshotError:
            return Rejected("malformed")
        merged = {**self._sums, **sums}
        total = format_digest(sum(v for v in merged.values() if v is not None))
        if total != frame["digest"]:
            return Rejected("digest")
        if self._validate is not None:
            try:
                self._validate(self.content, body)
            except ValidationError:
                return Rejected("unusable")
        self._apply(body, sums)
        self._sums = {k: v for k, v in merged.items() if v is not None}
        self.version = version
        return Accepted(version, self.content, total, body)

    def _shared(
        self, frame: dict[str, Any], version: int, body: dict[str, Any]
    ) -> Accepted | Rejected:
        """A delta signed once for every reader in our exact state (see shared_statement).

        It is not bound to this connection: it can only move a cache that holds exactly
        the rows its statement names, at exactly its base version, along the transition
        the server signed; freshness still comes from this connection's heartbeats.
        """
        statement, sig = frame.get("statement"), frame.get("sig")
        if not isinstance(statement, dict) or set(statement) != _STATEMENT_KEYS:
            return Rejected("malformed")
        base = statement["base"]
        if (
            not isinstance(sig, str)
            or not isinstance(statement["org"], str)
            or not _int(statement["base_version"])
            or statement["version"] != version
            or not isinstance(base, dict)
            or not all(isinstance(v, str) for v in base.values())
            or not isinstance(statement["body"], str)
        ):
            return Rejected("malformed")
        try:
            message = SHARED_CONTEXT + canonical(statement)
        except SnapshotError:
            return Rejected("malformed")
        if not self._verify(sig, message):
            return Rejected("bad_signature")
        if frame.get("reader_id") != self.reader_id:
            return Rejected("wrong_reader")
        if version <= self.version:
            return Rejected("rollback")
        self._assembly = None
        if statement["base_version"] != self.version or self.content is None:
            return Rejected("gap")
        try:
            _no_floats(body)
            if hashlib.sha256(canonical(body)).hexdigest() != statement["body"]:
                return Rejected("bad_signature")  # not the body that was signed
            sets, unsets, _, _ = _checked(body)
            if not {*sets, *unsets} <= set(base):
                return Rejected("malformed")  # rows changed in a section it does not name
            sums = delta_sums(self.content, self._sums, body)
        except SnapshotError:
            return Rejected("malformed")
        for name, share in base.items():
            held = self._sums.get(name)
            if held is None or format_digest(held) != share:
                return Rejected("gap")  # signed for readers holding other rows
        merged = {**self._sums, **sums}
        total = format_digest(sum(v for v in merged.values() if v is not None))
        if self._validate is not None:
            try:
                self._validate(self.content, body)
            except ValidationError:
                return Rejected("unusable")
        self._apply(body, sums)
        self._sums = {k: v for k, v in merged.items() if v is not None}
        self.version = version
        return Accepted(version, self.content, total, body)

    def _part(
        self, frame: dict[str, Any], version: int, body: dict[str, Any]
    ) -> Accepted | Pending | Rejected:
        found = self._assembly
        if found is None or found.version != version or frame.get("index") != found.next_index:
            return Rejected("gap")
        try:
            _no_floats(body)
        except SnapshotError:
            return Rejected("malformed")
        for name, rows in body.items():
            section = found.content.get(name)
            if not isinstance(section, dict) or not isinstance(rows, dict):
                return Rejected("malformed")
            section.update(rows)
        found.next_index += 1
        if found.next_index < found.parts:
            return Pending(version, found.next_index, found.parts)
        self._assembly = None
        return self._take_snapshot(version, found.content, found.digest)

    def _take_snapshot(
        self, version: int, content: dict[str, Any], wanted: str
    ) -> Accepted | Rejected:
        try:
            sums = {n: section_hash(n, v) for n, v in content.items()}
        except SnapshotError:
            return Rejected("malformed")
        total = format_digest(sum(sums.values()))
        if total != wanted:
            return Rejected("digest")
        if self._validate is not None:
            try:
                self._validate(content, None)
            except ValidationError:
                return Rejected("unusable")
        self.version, self.content, self._sums = version, content, sums
        return Accepted(version, content, total)

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
        if not self._verify(sig, message) or frame.get("version") != self.version:
            return False
        self._beat_seq, self._beat_at = seq, at
        return True
