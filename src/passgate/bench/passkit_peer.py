"""The peer of `passgate bench passkit`: django-walletpass in a throwaway environment.

django-walletpass (from the package index) and gunicorn are installed into a virtual
environment under the bench's temporary directory, a minimal Django site mounts its
PassKit URLs under /passkit/ on SQLite (Django's defaults), and its own PassBuilder
signs the same pass.json and images Passgate serves with the same throwaway
certificate. Nothing of it is imported into this process: it runs under its own
interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from dataclasses import dataclass
from pathlib import Path

PEER_PACKAGES = ("django-walletpass", "gunicorn")


class PeerUnavailable(Exception):
    """The peer could not be set up (no package index, a failed install, ...)."""


@dataclass(frozen=True)
class PeerEnv:
    python: Path
    version: str


def _run(cmd: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    # Our own command lines, run by the peer environment's interpreter.
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)  # noqa: S603


def install(env_dir: Path, echo: object = None) -> PeerEnv:
    """A virtual environment with django-walletpass and gunicorn, made or reused."""
    python = env_dir / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    probe = [
        str(python),
        "-c",
        "import importlib.metadata as m; print(m.version('django-walletpass'))",
    ]
    found = _run(probe)
    if found.returncode != 0:
        cmd = [
            str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--retries", "1", "--timeout", "20", *PEER_PACKAGES,
        ]  # fmt: skip
        try:
            done = _run(cmd, timeout=600)
        except subprocess.TimeoutExpired as exc:
            raise PeerUnavailable("installing django-walletpass took over 10 minutes") from exc
        if done.returncode != 0:
            lines = [x for x in (done.stderr or done.stdout).splitlines() if x.strip()]
            last = lines[-1].strip() if lines else f"pip exited with {done.returncode}"
            raise PeerUnavailable(
                f"could not install django-walletpass from the package index ({last})"
            )
        found = _run(probe)
        if found.returncode != 0:
            raise PeerUnavailable("django-walletpass installed but cannot be imported")
    return PeerEnv(python=python, version=found.stdout.strip())


SETTINGS = """
from pathlib import Path
HERE = Path(__file__).resolve().parent
SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "django_walletpass",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"
DATABASES = {{
    "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": str(HERE.parent / "peer.db")}}
}}
MEDIA_ROOT = str(HERE.parent / "media")
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None
WALLETPASS = {{
    "CERT_PATH": {cert!r},
    "KEY_PATH": {key!r},
    "APPLE_WWDRCA_PEM_PATH": {wwdr!r},
    "PASS_TYPE_ID": {pass_type!r},
    "TEAM_ID": {team!r},
    "SERVICE_URL": {service_url!r},
}}
"""

URLS = """
from django.urls import include, path
urlpatterns = [path("passkit/", include("django_walletpass.urls"))]
"""

WSGI = """
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
application = get_wsgi_application()
"""

LOAD = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django_walletpass.models import Pass, Registration
from django_walletpass.services.pass_builder import PassBuilder
spec = json.load(open(sys.argv[1]))
images = {name: bytes.fromhex(data) for name, data in spec["images"].items()}
sizes = []
for item in spec["passes"]:
    builder = PassBuilder()
    builder.pass_data = dict(item["pass_json"])
    builder.pass_data_required.update(
        serialNumber=item["serial"], authenticationToken=item["token"]
    )
    for name, data in images.items():
        builder.add_file(name, data)
    sizes.append(len(builder.build()))
    p = builder.write_to_model()
    for device, push in item["registrations"]:
        Registration.objects.create(device_library_identifier=device, push_token=push, pazz=p)
print(json.dumps({"passes": Pass.objects.count(), "pkpass_bytes": sorted(sizes)[len(sizes) // 2]}))
"""


def make_site(
    root: Path,
    *,
    cert: Path,
    key: Path,
    wwdr: Path,
    pass_type: str,
    team: str,
    service_url: str,
) -> None:
    site = root / "benchsite"
    site.mkdir(parents=True, exist_ok=True)
    (site / "__init__.py").write_text("")
    (site / "settings.py").write_text(
        textwrap.dedent(SETTINGS).format(
            cert=str(cert),
            key=str(key),
            wwdr=str(wwdr),
            pass_type=pass_type,
            team=team,
            service_url=service_url,
        )
    )
    (site / "urls.py").write_text(textwrap.dedent(URLS))
    (site / "wsgi.py").write_text(textwrap.dedent(WSGI))
    (root / "load.py").write_text(textwrap.dedent(LOAD))


def load(env: PeerEnv, root: Path, spec: dict[str, object]) -> dict[str, int]:
    """Migrate the peer's database and create the same passes and registrations."""
    spec_path = root / "peer-data.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run(  # noqa: S603 - the peer's interpreter, our script
        [str(env.python), str(root / "load.py"), str(spec_path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PeerUnavailable("loading the peer's passes failed: " + " | ".join(tail))
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def server_command(env: PeerEnv, port: int, worker: str) -> list[str]:
    """gunicorn, one worker process: ``sync`` (no keep-alive) or ``gthread`` (4 threads)."""
    cmd = [
        str(env.python), "-m", "gunicorn", "benchsite.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    if worker == "gthread":
        cmd += ["--worker-class", "gthread", "--threads", "4", "--keep-alive", "30"]
    return cmd


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PASSGATE_", "VIRTUAL_ENV"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    return env
