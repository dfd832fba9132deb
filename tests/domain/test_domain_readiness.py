"""Apple Pass readiness of readers and doors (R13)."""

from __future__ import annotations

import pytest

from passgate.domain.errors import ValidationError
from passgate.domain.readiness import (
    APPLE_PASS_READER_MODELS,
    KNOWN_READER_MODELS,
    READINESS_MESSAGES,
    DoorReadiness,
    ReaderReadiness,
    door_readiness,
    is_apple_pass_capable,
    reader_readiness,
    validate_reader_model,
)


def test_model_catalogue() -> None:
    assert {"reader_pro_2_0", "reader_pro_2_1", "reader_lite_1_0"} <= KNOWN_READER_MODELS
    assert APPLE_PASS_READER_MODELS <= KNOWN_READER_MODELS
    assert is_apple_pass_capable("reader_pro_2_1")
    assert not is_apple_pass_capable("reader_pro_2_0")
    assert not is_apple_pass_capable("reader_lite_1_0")
    assert not is_apple_pass_capable("Reader_Pro_2_1")


@pytest.mark.parametrize(
    ("model", "tamper", "expected"),
    [
        ("reader_pro_2_1", True, ReaderReadiness(True, ())),
        ("reader_pro_2_1", False, ReaderReadiness(False, ("tamper_protection_off",))),
        ("reader_pro_2_0", True, ReaderReadiness(False, ("reader_unsupported",))),
        (
            "reader_lite_1_0",
            False,
            ReaderReadiness(False, ("reader_unsupported", "tamper_protection_off")),
        ),
        ("unknown_model", True, ReaderReadiness(False, ("reader_unsupported",))),
    ],
    ids=["ready", "tamper_off", "old_model", "both", "unknown_model"],
)
def test_reader_readiness(model: str, tamper: bool, expected: ReaderReadiness) -> None:
    assert reader_readiness(model, tamper) == expected


def test_door_without_reader_is_not_ready() -> None:
    assert door_readiness([]) == DoorReadiness(False, ("no_reader",))


def test_door_with_all_ready_readers_is_ready() -> None:
    readers = [("reader_pro_2_1", True), ("reader_pro_2_1", True)]
    assert door_readiness(readers) == DoorReadiness(True, ())


def test_one_unready_reader_makes_the_door_unready() -> None:
    readers = [("reader_pro_2_1", True), ("reader_pro_2_0", True)]
    assert door_readiness(readers) == DoorReadiness(False, ("reader_unsupported",))


def test_door_reasons_are_deduplicated_in_stable_order() -> None:
    first = door_readiness([("reader_pro_2_1", False), ("reader_lite_1_0", True)])
    second = door_readiness([("reader_lite_1_0", True), ("reader_pro_2_1", False)])
    assert first == second == DoorReadiness(False, ("reader_unsupported", "tamper_protection_off"))


def test_every_reason_has_a_message() -> None:
    reasons = {
        "no_reader",
        "reader_unsupported",
        "tamper_protection_off",
        "reader_tampered",
        "reader_offline",
    }
    assert set(READINESS_MESSAGES) == reasons
    assert all(message.endswith(".") for message in READINESS_MESSAGES.values())


def test_validate_reader_model() -> None:
    assert validate_reader_model("reader_lite_1_0") == "reader_lite_1_0"
    with pytest.raises(ValidationError) as info:
        validate_reader_model("acme_9000", "readers[0].model")
    assert info.value.field == "readers[0].model"
    assert "reader_pro_2_1" in info.value.message
