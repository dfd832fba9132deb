"""The hub pauses the cyclic garbage collector for a pass (reader_hub._collector_paused):
paused inside, restored after, even when the pass fails, and left off if it was off."""

from __future__ import annotations

import gc
import weakref

import pytest

from passgate.services import reader_hub


def test_the_collector_is_off_during_a_pass_and_back_on_after_it_even_on_an_error() -> None:
    assert gc.isenabled()
    with reader_hub._collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), reader_hub._collector_paused():
        raise RuntimeError("the database went away mid-pass")
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with reader_hub._collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _hub_with_links(count: int) -> reader_hub.Hub:
    hub = reader_hub.Hub(container=None)  # type: ignore[arg-type]
    hub._links = {f"rdr_{i}": None for i in range(count)}  # type: ignore[misc]
    return hub


def test_with_many_readers_the_heap_is_frozen_after_a_pass_and_reclaimed_whole_later() -> None:
    gc.collect()
    try:
        hub = _hub_with_links(reader_hub.FREEZE_FROM_LINKS)
        hub._frozen_at -= reader_hub.REFREEZE_S
        kept = _Cycle()
        hub._tend_heap()
        assert gc.get_freeze_count() > 0  # what was alive is out of the collector's walk
        frozen_at = hub._frozen_at
        hub._tend_heap()
        assert hub._frozen_at == frozen_at  # at most every REFREEZE_S

        # Frozen and then dropped in a cycle: only the whole reclaim frees it.
        gone = weakref.ref(kept)
        del kept
        gc.collect()
        assert gone() is not None
        hub._reclaimed_at -= reader_hub.RECLAIM_S
        hub._tend_heap()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_with_few_readers_the_heap_is_left_to_the_collector() -> None:
    gc.collect()
    hub = _hub_with_links(reader_hub.FREEZE_FROM_LINKS - 1)
    hub._frozen_at -= reader_hub.REFREEZE_S
    hub._reclaimed_at -= reader_hub.RECLAIM_S
    before = gc.get_freeze_count()
    hub._tend_heap()
    assert gc.get_freeze_count() == before
