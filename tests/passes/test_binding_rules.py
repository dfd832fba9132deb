"""R8-R10 binding rules as properties of the pure planner."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.domain.errors import PreconditionFailed
from passgate.domain.passes import (
    BindingPlan,
    BoundDevice,
    DeviceClaim,
    devices_column,
    plan_binding,
)

KEYS = [f"{i:02x}" * 65 for i in range(6)]
ids = st.sampled_from(["p1", "p2", "w1", "w2"])


def apply_plan(
    bound: Sequence[BoundDevice], plan: BindingPlan, new_id: Callable[[], str]
) -> list[BoundDevice]:
    """The active devices after ``plan`` (a model of what services.credentials.passes stores)."""
    gone = set(plan.replace)
    kept = [d for d in bound if d.id in plan.unchanged and d.id not in gone]
    added = [BoundDevice(new_id(), c.kind, c.device_id, c.public_key) for c in plan.add]
    return kept + added


@st.composite
def claims(draw: st.DrawFn, kind: str) -> DeviceClaim:
    return DeviceClaim(
        kind=kind,
        device_id=draw(st.sampled_from([f"{kind}-a", f"{kind}-b"])),
        model="m",
        os_version="17.0",
        public_key=draw(st.sampled_from(KEYS[:3] if kind == "iphone" else KEYS[3:])),
        locked=draw(st.booleans()) if kind == "watch" else False,
    )


@st.composite
def states(draw: st.DrawFn) -> list[BoundDevice]:
    out = []
    if draw(st.booleans()):
        c = draw(claims("iphone"))
        out.append(BoundDevice("d-phone", "iphone", c.device_id, c.public_key))
    if draw(st.booleans()):
        c = draw(claims("watch"))
        out.append(BoundDevice("d-watch", "watch", c.device_id, c.public_key))
    return out


@settings(max_examples=200, deadline=None)
@given(states(), claims("iphone"), st.none() | claims("watch"))
def test_plans_keep_one_iphone_one_watch_and_are_idempotent(
    bound: list[BoundDevice], phone: DeviceClaim, watch: DeviceClaim | None
) -> None:
    counter = itertools.count()
    plan = plan_binding("active", bound, phone, watch)
    after = apply_plan(bound, plan, lambda: f"n{next(counter)}")
    kinds = [d.kind for d in after]
    assert kinds.count("iphone") == 1 and kinds.count("watch") <= 1
    assert set(plan.replace) <= {d.id for d in bound}
    assert not set(plan.replace) & set(plan.unchanged)
    # Every bound device is either kept or replaced: none is left active by omission.
    assert set(plan.replace) | set(plan.unchanged) == {d.id for d in bound}
    phone_now = next(d for d in after if d.kind == "iphone")
    assert (phone_now.device_id, phone_now.public_key) == (phone.device_id, phone.public_key)
    old_phone = next((d for d in bound if d.kind == "iphone"), None)
    if old_phone is not None and old_phone.id in plan.replace:
        # R10: the old iPhone takes its watch with it.
        assert all(d.id in plan.replace for d in bound)
    if watch is not None and watch.locked:
        assert plan.watch_skipped == "watch_locked" or any(
            d.kind == "watch" and d.device_id == watch.device_id for d in bound
        )
        assert all(c.kind != "watch" for c in plan.add)
    # Repeating the same request changes nothing.
    again = plan_binding("active", after, phone, watch)
    assert not again.changes_anything


@given(states(), claims("iphone"), st.none() | claims("watch"))
@settings(max_examples=50, deadline=None)
def test_suspended_passes_refuse_every_add(
    bound: list[BoundDevice], phone: DeviceClaim, watch: DeviceClaim | None
) -> None:
    with pytest.raises(PreconditionFailed) as info:
        plan_binding("suspended", bound, phone, watch)
    assert info.value.code == "pass_suspended"


@given(states(), claims("iphone"))
@settings(max_examples=50, deadline=None)
def test_a_deleted_pass_starts_from_nothing(bound: list[BoundDevice], phone: DeviceClaim) -> None:
    plan = plan_binding("deleted", bound, phone, None)
    assert plan.add == (phone,) and plan.replace == () and plan.unchanged == ()


def test_devices_column() -> None:
    assert devices_column([]) == "none"
    assert devices_column(["iphone"]) == "iphone"
    assert devices_column(["watch"]) == "watch"
    assert devices_column(["watch", "iphone"]) == "both"
