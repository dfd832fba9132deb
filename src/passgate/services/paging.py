"""Keyset paging for the long lists (events, Apple Passes).

A page ends with a cursor naming the last row's position in the list's order (its sort
time and id); the next page is the rows strictly after that position. Unlike an offset,
a position costs the same at row 10 as at row 1,000,000 (one index seek), and rows
inserted meanwhile neither repeat nor skip a row of the pages still to come.

The cursor is opaque to clients: URL-safe base64 of a small JSON object. It carries the
list it belongs to, so a cursor of one list handed to another is refused. Anything that
does not decode to a valid position is refused with a ValidationError naming the
``cursor`` parameter; a well-formed cursor a client made up only moves its own position.

Counts are capped: counting every matching row grows with the table, so a list counts at
most ``COUNT_CAP`` + 1 matching rows and reports the total only when it is exact.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from passgate.domain.errors import ValidationError

T = TypeVar("T")
# A count reads one index entry per match: 1,000 keep it under a millisecond or two on
# either database; past that a client pages by cursor and is told only "more than".
COUNT_CAP = 1_000
MAX_CURSOR = 200  # characters; a real cursor is about 100


@dataclass(frozen=True)
class Position:
    """A row's place in a newest-first list: its sort time, then its id (ties)."""

    at: datetime
    id: str


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Position | None  # where the next page starts; None on the last page
    total: int | None  # matching rows, when at most COUNT_CAP; None when more


def encode_cursor(kind: str, position: Position) -> str:
    body = {"k": kind, "t": position.at.astimezone(UTC).isoformat(), "i": position.id}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> Position:
    """The position a cursor of list ``kind`` names; ValidationError(field="cursor") if none."""
    bad = ValidationError(
        "cursor is not one this list handed out; start again without it", field="cursor"
    )
    if not cursor or len(cursor) > MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad from exc
    if not isinstance(body, dict) or set(body) != {"k", "t", "i"} or body["k"] != kind:
        raise bad
    at, row_id = body["t"], body["i"]
    if not isinstance(at, str) or not isinstance(row_id, str):
        raise bad
    if not 0 < len(row_id) <= 40 or not row_id.isprintable():
        raise bad
    try:
        when = datetime.fromisoformat(at)
    except ValueError as exc:
        raise bad from exc
    if when.tzinfo is None:
        raise bad
    return Position(at=when.astimezone(UTC), id=row_id)
