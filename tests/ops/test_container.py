"""The container image and the compose file: built and started where a container engine runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from tests.ops.support import OPERATOR_KEY, SECRET_KEY, pass_certificate_env

ROOT = Path(__file__).parents[2]


def test_the_image_runs_as_a_non_root_user_from_a_slim_base() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    stages = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    assert stages and all(base.endswith("-slim") or " AS " in base for base in stages)
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)


def test_the_compose_file_runs_postgresql_a_migration_servers_and_a_worker() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "server-1", "server-2", "worker"} <= set(services)
    assert services["worker"]["command"] == ["worker"]
    for name in ("server-1", "server-2"):
        assert services[name]["command"] == ["serve", "--no-migrate"]
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    url = services["server-1"]["environment"]["PASSGATE_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@db/" in url


def _engine() -> tuple[str | None, str]:
    """The docker command, or None and why the stack cannot be tried here."""
    docker = shutil.which("docker")
    if docker is None:
        return None, "docker is not installed"
    for args, why in (
        (["info"], "the docker daemon is not running"),
        (["compose", "version"], "the docker compose plugin is not installed"),
    ):
        ok = subprocess.run([docker, *args], capture_output=True, timeout=30, check=False)
        if ok.returncode != 0:
            return None, why
    return docker, ""


def test_compose_builds_and_starts_the_stack(tmp_path: Path) -> None:
    docker, why = _engine()
    if docker is None:
        pytest.skip(
            f"no container engine here ({why}): the image was not built and the compose "
            "stack not started"
        )
    passkit = tmp_path / "passkit"
    pass_certificate_env(passkit)
    for path in passkit.iterdir():
        os.chown(path, 10001, 10001)
    env_file = tmp_path / "passgate.env"
    env_file.write_text(f"PASSGATE_SECRET_KEY={SECRET_KEY}\nPASSGATE_OPERATOR_KEY={OPERATOR_KEY}\n")
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": "compose-test-password",
        "PASSGATE_ENV_FILE": str(env_file),
        "PASSGATE_PASSKIT_DIR": str(passkit),
    }
    compose = [docker, "compose", "-p", "passgate-test", "-f", str(ROOT / "compose.yaml")]
    try:
        subprocess.run([*compose, "up", "-d", "--build"], env=env, check=True, timeout=1200)
        deadline = time.monotonic() + 120  # bounds a hang; not a timing assertion
        for port in (8000, 8001):
            while True:
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"server on {port} never became ready"
                time.sleep(1)
        whoami = subprocess.run(
            [*compose, "exec", "-T", "worker", "id", "-u"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert whoami.stdout.strip() == "10001"
    finally:
        subprocess.run([*compose, "down", "-v"], env=env, check=False, timeout=300)
