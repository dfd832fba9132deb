"""Throughput of build_pkpass / verify_pkpass on one core with a dev RSA-2048 chain.

Not collected by pytest (no test_ prefix); run it by hand:
    cd /work/main && .venv/bin/python -m tests.proto.passkit.bench_build_pkpass
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509
from tests.proto.passkit.passkit_helpers import PASS_TYPE, TEAM, make_content

from passgate.proto.passkit import (
    PassSigner,
    build_pass_json,
    build_pkpass,
    default_images,
    make_dev_chain,
    verify_pkpass,
)


def rate(label: str, call: Callable[[], object], seconds: float = 2.0, rounds: int = 3) -> None:
    results = []
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / rounds:
            call()
            count += 1
        results.append(count / (time.perf_counter() - start))
    print(f"{label}: median {statistics.median(results):,.0f}/s over {rounds} rounds")


def main() -> None:
    now = datetime.now(UTC)
    chain = make_dev_chain(pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=now)
    signer = PassSigner.from_pem(chain.pass_cert_pem, chain.pass_key_pem, chain.wwdr_pem)
    root = x509.load_pem_x509_certificate(chain.root_pem)
    serial = iter(range(10**9))

    def build(signing_time: datetime | None) -> bytes:
        content = make_content(serial_number=f"serial-{next(serial)}")
        files = {"pass.json": build_pass_json(content), **default_images()}
        return build_pkpass(files, signer, signing_time=signing_time)

    rate("build_pkpass (pass.json + images + sign + zip, time passed in)", lambda: build(now))
    rate("build_pkpass (library builder, clock stamped)", lambda: build(None))
    sample = build(now)
    rate("verify_pkpass", lambda: verify_pkpass(sample, trusted_roots=[root], now=now))
    print(f"pass size: {len(sample)} bytes")


if __name__ == "__main__":
    main()
