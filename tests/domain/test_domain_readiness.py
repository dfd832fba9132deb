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


def test_door_status_adds_tampered_and_offline_readers() -> None:
    from datetime import UTC, datetime, timedelta

    from passgate.domain.readiness import ReaderState, door_status, is_online, reader_model_name

    good = ReaderState("reader_pro_2_1", True, tampered=False, online=True)
    assert door_status([good]) == DoorReadiness(True, ())
    tampered = ReaderState("reader_pro_2_1", True, tampered=True, online=True)
    offline = ReaderState("reader_lite_1_0", True, tampered=False, online=False)
    assert door_status([offline, tampered]) == DoorReadiness(
        False, ("reader_unsupported", "reader_tampered", "reader_offline")
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    stale = timedelta(seconds=60)
    assert is_online(True, now - timedelta(seconds=59), now, stale)
    assert not is_online(True, now - timedelta(seconds=61), now, stale)  # server stopped
    assert not is_online(False, now, now, stale) and not is_online(True, None, now, stale)
    assert reader_model_name("reader_pro_2_1") == "Reader Pro 2.1 (Apple Pass)"
    assert reader_model_name("reader_x") == "reader_x"


def test_device_names_tell_two_iphones_apart() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from passgate.domain.devices import device_name, model_name

    at = datetime(2026, 12, 1, tzinfo=UTC)
    one = SimpleNamespace(kind="iphone", model="iPhone16,1", device_id="dev-aaaa", added_at=at)
    two = SimpleNamespace(kind="iphone", model="iPhone16,1", device_id="dev-bbbb", added_at=at)
    assert device_name(one) == "iPhone 15 Pro ···AAAA" != device_name(two)
    assert model_name("Watch7,1", "watch") == "Apple Watch Series 9"
    assert model_name("iPhone99,9", "iphone") == "iPhone (iPhone99,9)"
