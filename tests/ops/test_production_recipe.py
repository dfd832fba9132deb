"""The README's "Running it for real", run as written on PostgreSQL: two API processes, a worker.

The test takes the recipe's shell blocks from README.md and runs them with bash in the
repository, changing only what is site-specific: the database URL (a fresh database
on the suite's PostgreSQL), /etc/passgate (a temporary directory) and the ports. `make
install` is skipped: `make test` has just done it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.livesrv import free_port
from tests.ops.support import empty_pg_database, processes, wait_ready

from passgate.proto import webhook

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).parents[2]
SITE_URL = "postgresql+psycopg://passgate:PASSWORD@db.internal/passgate"


def recipe() -> tuple[list[str], list[str]]:
    """(set-up lines, long-running command lines) of the README's production recipe."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    lines = [
        line.strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
        for line in block.splitlines()
    ]
    setup = [ln for ln in lines if ln and not ln.startswith(("#", "make "))]
    running = [ln for ln in setup if re.search(r"passgate (serve|worker)\b", ln)]
    return [ln for ln in setup if ln not in running], running


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_readme_recipe_runs_as_written(postgres: str, tmp_path: Path) -> None:
    setup, running = recipe()
    assert any(SITE_URL in ln for ln in setup), "the recipe's database URL changed"
    assert sum("passgate serve" in ln for ln in running) == 1 and len(running) == 2
    url = empty_pg_database(postgres, "passgate_recipe")
    site = tmp_path / "etc-passgate"
    script = "\n".join(
        ln.replace(SITE_URL, url).replace("/etc/passgate", str(site)) for ln in setup
    )
    env_file = tmp_path / "env.json"
    script += f"\npython3 -c 'import json,os; print(json.dumps(dict(os.environ)))' > {env_file}\n"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PASSGATE_")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        # The webhook receiver below listens on loopback, which webhooks may reach only
        # when the operator allows it.
        env={
            **base_env,
            "PASSGATE_LOG_LEVEL": "warning",
            "PASSGATE_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "pass certificate OK" in done.stdout
    token = next(json.loads(ln)["token"] for ln in done.stdout.splitlines() if '"token"' in ln)
    env = json.loads(env_file.read_text())

    serve_line, worker_line = sorted(running, key=lambda ln: "worker" in ln)
    ports = [free_port(), free_port()]
    commands = [
        shlex.split(serve_line.replace("0.0.0.0", "127.0.0.1").replace("8000", str(port)))
        for port in ports
    ] + [shlex.split(worker_line)]
    admin = {"Authorization": f"Bearer {token}"}
    with (
        webhook_receiver() as (hook_url, received),
        processes(commands, env, tmp_path, ROOT) as procs,
    ):
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        wait_ready(a, procs[0])
        wait_ready(b, procs[1])
        made = httpx.post(f"{a}/api/v1/webhooks", json={"url": hook_url}, headers=admin)
        assert made.status_code == 201, made.text
        secret = made.json()["secret"].encode()
        # A change made through the other API process; the worker delivers its event.
        place = httpx.post(
            f"{b}/api/v1/places", json={"name": "HQ", "timezone": "Europe/Berlin"}, headers=admin
        )
        assert place.status_code == 201, place.text
        deadline = time.monotonic() + 60  # bounds a hang; not a timing assertion
        while not any(b'"place.created"' in body for _, body in received):
            assert procs[2].poll() is None, "the worker exited"
            assert time.monotonic() < deadline, f"no delivery; got {received!r}"
            time.sleep(0.05)
        headers, body = next((h, b) for h, b in received if b'"place.created"' in b)
        assert webhook.verify(secret, headers["passgate-signature"], body, now=int(time.time()))
        org = httpx.get(f"{b}/api/v1/organization", headers=admin).json()
        assert org["slug"] == "acme"
