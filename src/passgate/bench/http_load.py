"""A small HTTP/1.1 load generator for `passgate bench passkit`, run as its own process.

``python -m passgate.bench.http_load SPEC.json`` reads the target, the request
templates, the number of connections, the duration and the CPU to pin itself to, and
prints one JSON object: requests, requests/s, latency percentiles (ms) and status
counts. Requests are raw bytes; ``{n}`` in a template is replaced by a running number
(a new device id per registration). Connections are kept alive unless the server
closes them; responses are read by Content-Length or chunked encoding.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    keep = not lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
    if status in (204, 304) or (100 <= status < 200):
        return status, keep
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _connection(
    spec: dict[str, Any],
    templates: list[bytes],
    counter: _Counter,
    deadline: float,
    measure_from: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while time.perf_counter() < deadline:
            if writer is None:
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            assert reader is not None
            n = counter.next()
            request = templates[n % len(templates)].replace(b"{n}", b"%d" % n)
            started = time.perf_counter()
            writer.write(request)
            status, keep = await _read_response(reader)
            done = time.perf_counter()
            if started >= measure_from:
                latencies.append(done - started)
                statuses[status] = statuses.get(status, 0) + 1
            if not keep:
                writer.close()
                writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    templates = [t.encode("latin-1") for t in spec["requests"]]
    counter = _Counter()
    counter.n = int(spec.get("first", 0))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start, cpu_start = time.perf_counter(), time.process_time()
    measure_from = start + float(spec.get("warmup", 0.0))
    deadline = measure_from + float(spec["seconds"])
    await asyncio.gather(
        *(
            _connection(spec, templates, counter, deadline, measure_from, latencies, statuses)
            for _ in range(int(spec["connections"]))
        )
    )
    elapsed = time.perf_counter() - measure_from
    # Near 1.0 means the load generator, not the server, set the pace.
    busy = (time.process_time() - cpu_start) / max(1e-9, time.perf_counter() - start)
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 3)

    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "last_n": counter.n,
        "client_busy": round(busy, 2),
    }


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    cpu = spec.get("cpu")
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu)})
    try:
        import uvloop

        result = uvloop.run(_run(spec))
    except ImportError:  # plain asyncio is slower but measures the same thing
        result = asyncio.run(_run(spec))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
