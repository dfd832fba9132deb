"""The reader link's messages: one typed schema for both ends, sans-IO.

The server's hub (services/reader_hub.py) and the reader agent (reader/sync.py) speak
JSON text frames over a WebSocket. Every message is an object with a ``type``; this
module is the one place that says which types exist, which fields each carries and what
each field may hold. :func:`decode` turns a frame into one of the classes below, or
raises :class:`~passgate.proto.snapshot.SnapshotError` naming the first bad field;
:func:`encode` writes a message as canonical JSON. Neither end reads a message as a
dict.

Fields are strict: an integer is a JSON integer (``true`` is not 1, ``1.0`` is not 1),
text has no control characters (PostgreSQL text cannot hold NUL) and a timestamp carries
its zone. Unknown fields are ignored, so either end can add an optional field without
breaking the other; an unknown ``type`` is refused.

Frames the server signs (the cache's ``snapshot``, ``delta``, ``snapshot_part`` and
``shared_delta``, the ``heartbeat`` and a remote ``unlock``) are not taken apart here:
their signature covers the exact object, so :func:`decode` hands them over whole as a
:class:`Signed` and the reader's verifiers (``snapshot.CacheState``,
``unlock.check_unlock``) check the signature before they read a field.

The content of a reader's cache (what snapshots and deltas carry) is typed here too, as
``TypedDict`` rows: the server builds them as plain dicts that mypy checks against these
types (no cost on the hot path), and the reader validates each row it receives with the
same types (:func:`check_row`, :func:`check_small`) before it turns them into access
decisions (``domain.reader_cache``).

Event items (``events.items``) are typed per kind: an ``access`` decision, a ``tamper``
alarm, or a ``remote_unlock`` carried out or refused. Which reasons an access decision
may give is the access rule's vocabulary (``domain.access.Reason``); the server checks
it when it stores the event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    with_config,
)
from pydantic import ValidationError as SchemaError
from typing_extensions import TypedDict

from passgate.proto.snapshot import MAX_FRAME_BYTES, SnapshotError, canonical
from passgate.proto.unlock import GRANTED, MAX_ID, RESULT_REASONS

MAX_BATCH = 500  # events per ``events`` message
SIGNED_TYPES = frozenset(
    {"snapshot", "delta", "snapshot_part", "shared_delta", "heartbeat", "unlock"}
)


# No control characters (C0, DEL, C1): PostgreSQL text cannot hold NUL, and ids, reasons
# and versions have no use for the others. A pattern, so pydantic-core checks it natively.
_PLAIN = r"^[^\x00-\x1f\x7f-\x9f]*$"
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID, pattern=_PLAIN)]
Short = Annotated[str, Field(max_length=100, pattern=_PLAIN)]
Label = Annotated[str, Field(min_length=1, max_length=40, pattern=_PLAIN)]  # reasons, models
Nonce = Annotated[str, Field(min_length=16, max_length=100, pattern=_PLAIN)]
Sequence = Annotated[int, Field(ge=0, lt=2**62)]
Version = Annotated[int, Field(ge=0, lt=2**63)]


def _instant(value: Any) -> Any:
    """An ISO 8601 string (and only a string: strict fields take no numbers) as a
    datetime in UTC when it names its zone; AwareDatetime refuses one that does not."""
    if not isinstance(value, str):
        return value  # not a datetime either: AwareDatetime names the error
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


Timestamp = Annotated[AwareDatetime, BeforeValidator(_instant)]


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


# --- server -> reader ------------------------------------------------------------------


class Challenge(_Message):
    """The first frame of a connection: the reader signs ``nonce`` with its link key."""

    type: Literal["challenge"] = "challenge"
    nonce: Short


class Ack(_Message):
    """The event sequences the server holds; the reader deletes exactly these."""

    type: Literal["ack"] = "ack"
    sequences: list[Sequence]


class Error(_Message):
    """The server refused the reader's last message (``field`` names what was wrong)."""

    type: Literal["error"] = "error"
    code: Short
    field: Short = ""


class AliroCertificate(_Message):
    """The reader's Aliro certificate, from its organization's reader-issuer key."""

    type: Literal["aliro_certificate"] = "aliro_certificate"
    group_identifier: str
    group_public_key: str
    certificate: str


# --- reader -> server ------------------------------------------------------------------


class ReaderStatus(_Message):
    """What the hardware reports; the server checks the model against its catalogue."""

    model: Label | None = None
    firmware: Label | None = None


class Auth(_Message):
    """The answer to the challenge, and the reader's state: its cache version and digest
    (the server may send only what changed since), whether it takes shared deltas, and
    ``reader_nonce``, which every frame signed for this connection must echo."""

    type: Literal["auth"] = "auth"
    reader_id: Id
    signature: Short
    version: Version
    status: ReaderStatus = ReaderStatus()
    reader_nonce: Nonce | None = None
    digest: Short | None = None
    shared_deltas: bool = False


class _Event(_Message):
    sequence: Sequence
    occurred_at: Timestamp
    granted: bool
    reason: Label


class AccessEvent(_Event):
    """A tap decided at the door (granted or denied, with the decision's reason)."""

    kind: Literal["access"] = "access"
    member_id: Id | None = None
    credential_id: Id | None = None  # the Apple Pass (or app credential) that tapped
    key_id: Short | None = None  # the device key that tapped
    method: Short | None = None
    flow: Short | None = None
    transaction_id: Short | None = None


class TamperEvent(_Event):
    """The reader's tamper switch fired; its latch stays set until an admin clears it."""

    kind: Literal["tamper"] = "tamper"


class RemoteUnlockEvent(_Event):
    """An administrator's remote unlock, carried out (granted) or refused at the door."""

    kind: Literal["remote_unlock"] = "remote_unlock"
    command_id: Id


_EVENT_KINDS = ("access", "tamper", "remote_unlock")
EventItem = Annotated[AccessEvent | TamperEvent | RemoteUnlockEvent, Field(discriminator="kind")]


class Events(_Message):
    """A batch of the reader's queued events, oldest first."""

    type: Literal["events"] = "events"
    items: Annotated[list[EventItem], Field(max_length=MAX_BATCH)]


class Resync(_Message):
    """The reader rejected a frame (``reason``) and asks for a fresh snapshot."""

    type: Literal["resync"] = "resync"
    reason: Short


class Status(_Message):
    """The hardware's report changed (a model or firmware update)."""

    type: Literal["status"] = "status"
    status: ReaderStatus


class AliroKey(_Message):
    """The reader made a new Aliro key (paired, or a tamper cleared): certify it."""

    type: Literal["aliro_key"] = "aliro_key"
    public_key: str


class Ping(_Message):
    """Any sign of life; it also answers a heartbeat."""

    type: Literal["ping"] = "ping"


class Applied(_Message):
    """The reader committed this cache version to its store."""

    type: Literal["applied"] = "applied"
    version: Version


class UnlockResult(_Message):
    """The reader's answer to a remote unlock: pulsed (``ok``) or refused and why."""

    type: Literal["unlock_result"] = "unlock_result"
    command_id: Id
    ok: bool
    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str, info: ValidationInfo) -> str:
        if value not in RESULT_REASONS:
            raise ValueError("is not an unlock result reason")
        if "ok" in info.data and info.data["ok"] != (value == GRANTED):
            raise ValueError("disagrees with ok")
        return value


# --- the reader cache's content -----------------------------------------------------

_STRICT = ConfigDict(strict=True)


def _iso_instant(value: str) -> str:
    if datetime.fromisoformat(value).tzinfo is None:
        raise ValueError("must carry a time zone")
    return value


def _iso_day(value: str) -> str:
    date.fromisoformat(value)
    return value


Instant = Annotated[str, AfterValidator(_iso_instant)]  # ISO 8601 with its zone
Day = Annotated[str, Field(min_length=10, max_length=10), AfterValidator(_iso_day)]
Window = Annotated[list[int], Field(min_length=3, max_length=3)]  # weekday, start, end


@with_config(_STRICT)
class ScheduleSpec(TypedDict):
    """Weekly windows ``[weekday 0-6, start minute, end minute]`` and closed days."""

    windows: list[Window]
    holidays: list[Day]


@with_config(_STRICT)
class CredentialRow(TypedDict):
    """A key the reader may meet (rows of ``credentials``, keyed by key id)."""

    public_key: Annotated[str, Field(pattern=r"^(?:[0-9a-f]{2})+$")]  # the point, hex
    kind: Literal["apple_pass", "mobile_app"]
    status: str  # domain.access.CredentialStatus
    member_id: Id
    pass_id: NotRequired[Id | None]  # an Apple Pass key: its pass
    app_credential_id: NotRequired[Id | None]  # an app key (MotionSense, R27): its own id


# A member's access right at this door: valid from, until (None: open-ended), and its
# group's schedule (None: at any time). "from" is a Python keyword, hence this form.
GrantRow = TypedDict(
    "GrantRow",
    {"from": Instant | None, "until": Instant | None, "schedule": ScheduleSpec | None},
)
with_config(_STRICT)(GrantRow)


@with_config(_STRICT)
class MemberRow(TypedDict):
    """A member holding a key (rows of ``members``, keyed by member id): whether they are
    active and their grants at this reader's door."""

    active: bool
    grants: list[GrantRow]


@with_config(_STRICT)
class OrgSection(TypedDict):
    eligible: bool  # SSO with MFA and an active Apple Pass subscription (R1, R2)


@with_config(_STRICT)
class DoorSection(TypedDict):
    id: Id
    timezone: Annotated[str, Field(min_length=1, max_length=64)]
    lockdown: bool
    staleness_limit_s: Annotated[int, Field(ge=0)]
    schedule: ScheduleSpec | None


@with_config(_STRICT)
class ReaderSection(TypedDict):
    id: Id
    model: Label
    tamper_protection: bool
    tampered: bool
    tamper_seq: Sequence
    readiness: list[Label]  # domain.access.Reason values: why Apple Pass keys are withheld


_ROWS: dict[str, TypeAdapter[Any]] = {
    "credentials": TypeAdapter(CredentialRow),
    "members": TypeAdapter(MemberRow),
}
_SMALL: dict[str, TypeAdapter[Any]] = {
    "org": TypeAdapter(OrgSection),
    "door": TypeAdapter(DoorSection),
    "reader": TypeAdapter(ReaderSection),
}


def _checked(adapter: TypeAdapter[Any], value: Any, where: str) -> Any:
    try:
        return adapter.validate_python(value)
    except SchemaError as exc:
        error = exc.errors()[0]
        field = where + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        )
        raise SnapshotError(f"{field}: {error['msg']}", field=field) from None


def check_row(section: str, key: str, row: Any) -> Any:
    """One row of ``credentials`` or ``members``, checked against its type (returned as
    is); SnapshotError names the field, e.g. ``credentials.k1.public_key``."""
    return _checked(_ROWS[section], row, f"{section}.{key}")


def check_small(section: str, value: Any) -> Any:
    """The ``org``, ``door`` or ``reader`` section, checked against its type."""
    return _checked(_SMALL[section], value, section)


@dataclass(frozen=True)
class Signed:
    """A frame the server signed, whole: its verifier reads it after the signature."""

    type: str
    frame: dict[str, Any]


Message = (
    Challenge
    | Ack
    | Error
    | AliroCertificate
    | Auth
    | Events
    | Resync
    | Status
    | AliroKey
    | Ping
    | Applied
    | UnlockResult
)
_MESSAGES: TypeAdapter[Message] = TypeAdapter(Annotated[Message, Field(discriminator="type")])


def _where(loc: tuple[int | str, ...]) -> str:
    """``items[3].reason`` from pydantic's location, without the tags it inserts (the
    message's type first, an event's kind after its index)."""
    out = ""
    for i, part in enumerate(loc[1:]):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(loc[i], int) and part in _EVENT_KINDS:
            continue
        else:
            out += f".{part}" if out else part
    return out or "message"


def decode(text: str | bytes) -> Message | Signed:
    """One link message from its frame; SnapshotError names the first bad field (the
    error never is anything else, whatever the bytes)."""
    if len(text) > MAX_FRAME_BYTES:
        raise SnapshotError("message too large", field="message")
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SnapshotError("message is not JSON", field="message") from exc
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise SnapshotError("message must be an object with a type", field="type")
    if value["type"] in SIGNED_TYPES:
        return Signed(value["type"], value)
    try:
        return _MESSAGES.validate_python(value)
    except SchemaError as exc:
        error = exc.errors()[0]
        if error["type"] == "union_tag_invalid" and len(error["loc"]) == 0:
            raise SnapshotError("unknown message type", field="type") from None
        field = _where(error["loc"])
        raise SnapshotError(f"{field}: {error['msg']}", field=field) from None


def encode(message: Message | dict[str, Any]) -> str:
    """A message as its frame: canonical JSON (what the signed frames use too)."""
    if isinstance(message, BaseModel):
        data = message.model_dump(mode="json", exclude_none=True)
    else:
        data = message
    return canonical(data).decode()
