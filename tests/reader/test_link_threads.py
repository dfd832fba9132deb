"""A pass records what it sent a reader (Link.took) in a worker thread while the event
loop takes that reader's applied reports (Link.vouch): the two share the link's sent
digests. Unguarded, a 10,000-reader bench run on four server processes ended one
connection with "dictionary changed size during iteration", and the same interleaving
also raised KeyError in the pass's trimming."""

from __future__ import annotations

import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

from passgate.services import reader_hub

SECONDS = 1.0


def _link() -> reader_hub.Link:
    return reader_hub.Link(channel=None, reader_id="reader-1", org_id="org-1", version=0)  # type: ignore[arg-type]


def test_a_report_vouches_for_the_digest_sent_and_forgets_it_with_every_earlier_one() -> None:
    link = _link()
    view: Any = SimpleNamespace(small={}, credentials=None, members=None)
    for version in (5, 6, 7):
        link.took(version, view, f"digest-{version}", 0.0)
    assert link.vouch(6) == "digest-6"
    assert link.vouch(5) is None  # forgotten with 6: nothing to vouch for twice
    assert link.vouch(6) is None
    assert link.vouch(9) is None  # never sent
    assert link.vouch(7) == "digest-7"


def test_reports_taken_while_a_pass_thread_records_versions_never_break_either_side() -> None:
    link = _link()
    view: Any = SimpleNamespace(small={}, credentials=None, members=None)
    stop = threading.Event()
    failures: list[BaseException] = []
    vouched: list[tuple[int, str]] = []

    def passes() -> None:
        version = 0
        try:
            while not stop.is_set():
                version += 1
                link.took(version, view, f"digest-{version}", 0.0)
        except BaseException as exc:  # the failure itself is what this test reports
            failures.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads swap as often as they can
    worker = threading.Thread(target=passes)
    worker.start()
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline and not failures:
            with link.guard:
                known = sorted(link.sent)
            if len(known) < 2:
                continue
            version = known[len(known) // 2]
            digest = link.vouch(version)
            if digest is not None:
                vouched.append((version, digest))
    finally:
        stop.set()
        worker.join()
        sys.setswitchinterval(switch)
    assert failures == []
    assert vouched, "no report was taken: the test did not exercise the interleaving"
    assert all(digest == f"digest-{version}" for version, digest in vouched)
    assert [v for v, _ in vouched] == sorted({v for v, _ in vouched})  # each once, in order
