"""The light readers' shortcuts that are not checks: their ``applied`` report is the
link's encoding, and a row is parsed again whenever it is another object."""

from __future__ import annotations

from typing import Any

from passgate.bench import fleet
from passgate.proto import link as wire


def test_the_applied_report_is_the_links_encoding() -> None:
    for version in (1, 2**31, 2**53 - 1, 7_000_000_000_123):
        assert fleet.applied_text(version) == wire.encode(wire.Applied(version=version))
        assert wire.decode(fleet.applied_text(version)) == wire.Applied(version=version)


def test_a_row_is_parsed_once_per_object_and_again_when_it_is_another() -> None:
    calls: list[tuple[str, Any]] = []

    def parse(key: str, raw: Any) -> tuple[str, str]:
        calls.append((key, raw))
        return key, raw["status"]

    held = {"status": "active"}
    assert fleet._parsed(parse, "k1", held) == ("k1", "active")
    assert fleet._parsed(parse, "k1", held) == ("k1", "active")
    assert len(calls) == 1  # the same object: parsed once
    changed = {"status": "suspended"}  # a delta's new row for the same key
    assert fleet._parsed(parse, "k1", changed) == ("k1", "suspended")
    assert fleet._parsed(parse, "k2", held) == ("k2", "active")  # same object, other key
    assert len(calls) == 3
