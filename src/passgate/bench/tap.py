"""`passgate bench tap`: the reader's CPU time per Tap to Unlock transaction.

Measured: the reader side of the Aliro transaction (FAST or STANDARD), the cache look-up
and the access decision, with thread CPU time so the emulated device's own work is not
counted. The cache holds ``--credentials`` keys, as a busy site's reader would.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from datetime import UTC, datetime

import click
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.access import UnlockMethod
from passgate.domain.reader_cache import CacheView, decide_tap, parse_cache
from passgate.proto.aliro import (
    DeviceApplet,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    crypto,
)


def _content(keys: list[bytes]) -> dict[str, object]:
    credentials = {
        hashlib.sha256(k).hexdigest(): {
            "public_key": k.hex(),
            "kind": "apple_pass",
            "status": "active",
            "member_id": f"mem_{i}",
            "pass_id": f"pass_{i}",
        }
        for i, k in enumerate(keys)
    }
    members = {
        f"mem_{i}": {"active": True, "grants": [{"from": None, "until": None, "schedule": None}]}
        for i in range(len(keys))
    }
    return {
        "org": {"eligible": True},
        "door": {
            "id": "door_1",
            "timezone": "Europe/Berlin",
            "lockdown": False,
            "staleness_limit_s": 129600,
            "schedule": None,
        },
        "reader": {
            "id": "rdr_1",
            "model": "reader_pro_2_1",
            "tamper_protection": True,
            "tampered": False,
            "tamper_seq": 0,
            "readiness": [],
        },
        "credentials": credentials,
        "members": members,
    }


def _one(
    identity: ReaderIdentity,
    view: CacheView,
    device: DeviceApplet,
    persistent: dict[bytes, KnownEndpoint],
    fast: bool,
) -> float:
    """CPU seconds the reader spent on one transaction (device time excluded)."""
    spent = 0
    clock = time.thread_time_ns

    def lookup(public_key: bytes) -> KnownEndpoint | None:
        cred = view.credentials.get(hashlib.sha256(public_key).hexdigest())
        return None if cred is None else KnownEndpoint(cred.public_key)

    start = clock()
    tx = ReaderTransaction(
        identity, lookup=lookup, fast_candidates=lambda: persistent.values(), prefer_fast=fast
    )
    command = tx.start()
    spent += clock() - start
    while True:
        response = device.process(command)
        start = clock()
        outcome = tx.receive(response)
        if not isinstance(outcome, bytes):
            assert outcome.authenticated and outcome.endpoint_public_key is not None, outcome
            key_id = hashlib.sha256(outcome.endpoint_public_key).hexdigest()
            decision = decide_tap(
                view,
                key_id=key_id,
                method=UnlockMethod.NFC,
                now=datetime.now(UTC),
                synced_at=datetime.now(UTC),
                halted=False,
            )
            control = tx.finish(decision.decision.granted)
            spent += clock() - start
            if outcome.new_persistent_key is not None:
                persistent[outcome.endpoint_public_key] = KnownEndpoint(
                    outcome.endpoint_public_key, outcome.new_persistent_key
                )
            device.process(control)
            assert decision.decision.granted
            return spent / 1e9
        spent += clock() - start
        command = outcome


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


@click.command("tap")
@click.option("--taps", default=300, show_default=True, help="Transactions per flow")
@click.option("--credentials", default=1000, show_default=True, help="Keys in the reader cache")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def tap(taps: int, credentials: int, as_json: bool) -> None:
    """Reader CPU time per transaction, FAST and STANDARD (median and p99, ms)."""
    device_key = ec.generate_private_key(ec.SECP256R1())
    others = [
        crypto.public_bytes(ec.generate_private_key(ec.SECP256R1())) for _ in range(credentials - 1)
    ]
    view = parse_cache(_content([crypto.public_bytes(device_key), *others]))
    identity = ReaderIdentity(bytes(16), bytes(range(16)), ec.generate_private_key(ec.SECP256R1()))
    standard = []
    for _ in range(taps):
        device = DeviceApplet(device_key, persistent_keys={})
        standard.append(_one(identity, view, device, {}, fast=False))
    persistent: dict[bytes, KnownEndpoint] = {}
    device = DeviceApplet(device_key, persistent_keys={})
    _one(identity, view, device, persistent, fast=True)  # STANDARD once to learn the key
    fast = [_one(identity, view, device, persistent, fast=True) for _ in range(taps)]
    fm, fp = _stats(fast)
    sm, sp = _stats(standard)
    result = {
        "fast_median_ms": round(fm, 3),
        "fast_p99_ms": round(fp, 3),
        "standard_median_ms": round(sm, 3),
        "standard_p99_ms": round(sp, 3),
    }
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"FAST      median {fm:.3f} ms  p99 {fp:.3f} ms")
        click.echo(f"STANDARD  median {sm:.3f} ms  p99 {sp:.3f} ms")
