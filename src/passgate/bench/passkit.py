"""`passgate bench passkit`: the PassKit web service against django-walletpass.

Both servers get the same data (passes, each registered by one device; the same
pass.json and images; a throwaway certificate chain), run as one process each pinned to
the same CPU and take turns on each operation (the idle one waits), driven by a load
generator in another process on another CPU (``http_load``). Four operations:

- ``get_200``: GET the latest pass (the signed .pkpass);
- ``get_304``: the same with If-Modified-Since of the current version;
- ``register``: POST a new device registration (201);
- ``serials_since``: GET the serials a device's passes changed since a tag.

Requests/s and p50 latency per side (medians over the rounds) and the ratio Passgate /
peer (the median of the rounds' paired ratios); ``client_busy`` near 1 would mean the
load generator, not the server, set the pace. ``--no-peer`` runs
Passgate alone (CI has no guaranteed package index); without the index the peer is
reported as unavailable with the reason, not a traceback.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from passgate.bench import passkit_peer as peer

PASS_TYPE = "pass.bench.passgate.door"  # noqa: S105 - an identifier
TEAM = "BENCHTEAM1"
OPERATIONS = ("get_200", "get_304", "register", "serials_since")
SINCE_TAG = {"passgate": "1", "peer": "2000-01-01T00:00:00%2B00:00"}  # before every pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _pinned(cpu: int) -> Callable[[], None]:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    return pin


@contextmanager
def _server(cmd: list[str], port: int, cpu: int, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    log = open(cwd / f"server-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - our own command line
        cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_pinned(cpu)
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.flush()
                tail = (cwd / f"server-{port}.log").read_text(errors="replace")[-600:]
                raise click.ClickException(f"the server {cmd[0]} exited at start: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise click.ClickException(f"the server on port {port} did not start") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r


# --- Passgate's side ---------------------------------------------------------


def _passgate_data(
    tmp: Path, passes: int, chain_dir: Path
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A migrated SQLite database with ``passes`` members' passes, each registered by one
    device; the server's environment and, per pass, serial, token, pass.json and device."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from passgate.adapters.db import migrate
    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.domain import model as m
    from passgate.domain.passes import DeviceClaim, normalize_public_key
    from passgate.services.auth.sessions import LoginProof, start_session
    from passgate.services.credentials.wallet import authentication_token

    env = {
        "PASSGATE_DATABASE_URL": f"sqlite:///{tmp / 'passgate.db'}",
        "PASSGATE_SECRET_KEY": secrets.token_hex(24),
        "PASSGATE_DATA_DIR": str(tmp / "passgate-data"),
        "PASSGATE_PASS_TYPE_IDENTIFIER": PASS_TYPE,
        "PASSGATE_TEAM_IDENTIFIER": TEAM,
        "PASSGATE_PASS_CERT_PATH": str(chain_dir / "pass.pem"),
        "PASSGATE_PASS_KEY_PATH": str(chain_dir / "pass.key"),
        "PASSGATE_PASS_WWDR_PATH": str(chain_dir / "wwdr.pem"),
        "PASSGATE_PUBLIC_URL": "https://bench.example.com",
    }
    settings = Settings(
        database_url=env["PASSGATE_DATABASE_URL"],
        secret_key=env["PASSGATE_SECRET_KEY"],
        data_dir=env["PASSGATE_DATA_DIR"],
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        pass_cert_path=env["PASSGATE_PASS_CERT_PATH"],
        pass_key_path=env["PASSGATE_PASS_KEY_PATH"],
        pass_wwdr_path=env["PASSGATE_PASS_WWDR_PATH"],
        public_url=env["PASSGATE_PUBLIC_URL"],
    )
    c = build_container(settings)
    migrate.upgrade(c.engine)
    now = c.clock.now()
    org = m.Organization(id=m.new_id("org"), name="Bench Org", slug="bench", created_at=now)
    org.sso_enforced = org.mfa_required = True
    with c.uow_factory(None) as uow:
        uow.organizations.add(org)
    tokens = []
    with c.uow_factory(org.id) as uow:
        uow.repo(m.SsoConnection).add(
            m.SsoConnection(m.new_id("sso"), org.id, "oidc", True, {}, None, ["otp"], now, now)
        )
        uow.repo(m.Subscription).add(
            m.Subscription(m.new_id("sub"), org.id, "apple_pass", "active", now, None, now)
        )
        for i in range(passes):
            member = m.Member(
                m.new_id("mbr"), org.id, f"m{i}@bench.test", f"Member {i:05d}", "member",
                "active", None, now,
            )  # fmt: skip
            uow.repo(m.Member).add(member)
            proof = LoginProof("oidc", "https://idp.bench", True, ("pwd", "otp"), now)
            issued = start_session(
                uow,
                member=member,
                kind=m.SessionKind.APP,
                proof=proof,
                policy=c.session_policy(m.SessionKind.APP),
                now=now,
            )
            tokens.append(issued.token)
    made: list[dict[str, Any]] = []
    bar = click.progressbar(tokens, label="Passgate: adding passes", file=sys.stderr)
    with bar:
        for i, token in enumerate(bar):
            actor = c.authenticator.authenticate(token, now)
            point = (
                ec.generate_private_key(ec.SECP256R1())
                .public_key()
                .public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
            )
            claim = DeviceClaim(
                kind="iphone",
                device_id=f"bench-iphone-{i}",
                model="iPhone16,1",
                os_version="17.4",
                app_version="46.1",
                public_key=normalize_public_key(point.hex(), "iphone.public_key"),
            )
            result = c.provisioning.provision(actor, iphone=claim, watch=None)
            serial = result.serials["iphone"]
            pass_token = authentication_token(c.wallet_config, serial)
            device, push = f"benchdev{i}", secrets.token_hex(32)
            c.passkit_service.register(device, PASS_TYPE, serial, f"ApplePass {pass_token}", push)
            with zipfile.ZipFile(io.BytesIO(result.pkpasses["iphone"])) as z:
                files = {n: z.read(n) for n in z.namelist()}
            made.append(
                {
                    "serial": serial,
                    "token": pass_token,
                    "pass_json": json.loads(files["pass.json"]),
                    "images": {n: d for n, d in files.items() if n.endswith(".png")},
                    "registrations": [[device, push]],
                    "pkpass_bytes": len(result.pkpasses["iphone"]),
                }
            )
    c.close()
    return env, made


def _passgate_command(port: int) -> list[str]:
    return [sys.executable, "-m", "passgate.cli", "serve", "--no-migrate", "--port", str(port)]


# --- the load ----------------------------------------------------------------


def _requests(side: str, op: str, data: list[dict[str, Any]], stamps: dict[str, str]) -> list[str]:
    host = "Host: 127.0.0.1\r\n"
    out = []
    for item in data:
        serial, token = item["serial"], item["token"]
        auth = f"Authorization: ApplePass {token}\r\n"
        if op == "get_200":
            out.append(f"GET /passkit/v1/passes/{PASS_TYPE}/{serial} HTTP/1.1\r\n{host}{auth}\r\n")
        elif op == "get_304":
            ims = f"If-Modified-Since: {stamps[serial]}\r\n"
            out.append(
                f"GET /passkit/v1/passes/{PASS_TYPE}/{serial} HTTP/1.1\r\n{host}{auth}{ims}\r\n"
            )
        elif op == "register":
            body = json.dumps({"pushToken": secrets.token_hex(32)})
            out.append(
                f"POST /passkit/v1/devices/benchnew{{n}}x/registrations/{PASS_TYPE}/{serial} "
                f"HTTP/1.1\r\n{host}{auth}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}"
            )
        else:
            device = item["registrations"][0][0]
            out.append(
                f"GET /passkit/v1/devices/{device}/registrations/{PASS_TYPE}"
                f"?passesUpdatedSince={SINCE_TAG[side]} HTTP/1.1\r\n{host}\r\n"
            )
    return out


EXPECTED = {"get_200": "200", "get_304": "304", "register": "201", "serials_since": "200"}


def _load(
    tmp: Path,
    port: int,
    requests: list[str],
    *,
    seconds: float,
    connections: int,
    cpu: int | None,
    first: int,
) -> dict[str, Any]:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "requests": requests,
        "seconds": seconds,
        "warmup": min(1.0, seconds / 3),
        "connections": connections,
        "cpu": cpu,
        "first": first,
    }
    spec_path = tmp / "load.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "passgate.bench.http_load", str(spec_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise click.ClickException("the load generator failed: " + done.stderr.strip()[-400:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _stamps(port: int, data: list[dict[str, Any]]) -> dict[str, str]:
    stamps = {}
    for item in data:
        r = _get(
            port,
            f"/passkit/v1/passes/{PASS_TYPE}/{item['serial']}",
            {"Authorization": f"ApplePass {item['token']}"},
        )
        if r.status != 200:
            raise click.ClickException(f"GET of a bench pass answered {r.status}")
        stamps[item["serial"]] = r.getheader("Last-Modified") or ""
    return stamps


def _measure(
    side: str,
    op: str,
    tmp: Path,
    port: int,
    data: list[dict[str, Any]],
    stamps: dict[str, str],
    counters: dict[str, int],
    **load: Any,
) -> dict[str, Any]:
    result = _load(
        tmp, port, _requests(side, op, data, stamps), first=counters.get(side, 0), **load
    )
    counters[side] = int(result["last_n"]) + 1
    wrong = {k: v for k, v in result["statuses"].items() if k != EXPECTED[op]}
    if wrong or not result["requests"]:
        raise click.ClickException(
            f"{side} {op}: expected only {EXPECTED[op]} answers, got {result['statuses']}"
        )
    return result


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "requests_per_s": round(statistics.median(r["requests_per_s"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
        "requests": sum(r["requests"] for r in runs),
        "client_busy": round(max(r["client_busy"] for r in runs), 2),
    }


@click.command("passkit")
@click.option("--passes", default=300, show_default=True, type=click.IntRange(1, 20_000),
              help="Passes on each side, each registered by one device")  # fmt: skip
@click.option("--seconds", default=4.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Measured time per operation, side and round, s")  # fmt: skip
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Rounds (the sides take turns); medians are reported")  # fmt: skip
@click.option("--connections", default=8, show_default=True, type=click.IntRange(1, 512),
              help="Concurrent keep-alive connections of the load generator")  # fmt: skip
@click.option("--server-cpu", type=int, default=None,
              help="CPU both servers are pinned to [default: the last one]")  # fmt: skip
@click.option("--peer-worker", type=click.Choice(["gthread", "sync"]), default="gthread",
              show_default=True, help="gunicorn worker class of the peer")  # fmt: skip
@click.option("--peer-venv", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Reuse (or make) the peer's environment here instead of a temp dir")  # fmt: skip
@click.option("--no-peer", is_flag=True, help="Measure Passgate only (no package index needed)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def passkit(
    passes: int,
    seconds: float,
    rounds: int,
    connections: int,
    server_cpu: int | None,
    peer_worker: str,
    peer_venv: Path | None,
    no_peer: bool,
    as_json: bool,
) -> None:
    """PassKit web service: Passgate against django-walletpass on the same CPU and data."""
    from passgate.adapters.passcerts import write_dev_chain
    from passgate.proto.passkit import make_dev_chain

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    cpus = _cpus()
    server = cpus[-1] if server_cpu is None else server_cpu
    if server not in cpus:
        raise click.BadParameter(
            f"CPU {server} is not available (have {cpus})", param_hint="--server-cpu"
        )
    client = next((c for c in cpus if c != server), None)
    tmp = Path(tempfile.mkdtemp(prefix="passgate-bench-passkit-"))
    try:
        chain = make_dev_chain(
            pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=datetime.now(UTC)
        )
        write_dev_chain(chain, tmp / "chain")
        env, data = _passgate_data(tmp, passes, tmp / "chain")
        sides: dict[str, dict[str, Any]] = {"passgate": {"port": _free_port()}}
        peer_error: str | None = None
        peer_info: dict[str, Any] = {}
        if not no_peer:
            try:
                click.echo("peer: installing django-walletpass and gunicorn ...", err=True)
                penv = peer.install(peer_venv or tmp / "peer-venv")
                root = tmp / "peer"
                peer.make_site(
                    root,
                    cert=tmp / "chain" / "pass.pem",
                    key=tmp / "chain" / "pass.key",
                    wwdr=tmp / "chain" / "wwdr.pem",
                    pass_type=PASS_TYPE,
                    team=TEAM,
                    service_url="https://bench.example.com/passkit",
                )
                click.echo("peer: signing the same passes with its PassBuilder ...", err=True)
                keep = ("serial", "token", "pass_json", "registrations")
                images = {n: d.hex() for n, d in data[0]["images"].items()}
                passes_out = [{k: x[k] for k in keep} for x in data]
                loaded = peer.load(penv, root, {"images": images, "passes": passes_out})
                port = _free_port()
                sides["peer"] = {
                    "port": port,
                    "root": root,
                    "cmd": peer.server_command(penv, port, peer_worker),
                }
                peer_info = {
                    "name": f"django-walletpass {penv.version}",
                    "server": f"gunicorn, 1 worker ({peer_worker})",
                    "pkpass_bytes": loaded["pkpass_bytes"],
                }
            except peer.PeerUnavailable as exc:
                peer_error = str(exc)
                click.echo(f"peer unavailable: {peer_error}; measuring Passgate alone", err=True)
        pg_env = {**os.environ, **env}  # production defaults: a JSON log line per request
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            s: {op: [] for op in OPERATIONS} for s in sides
        }
        counters: dict[str, int] = {}
        load = {"seconds": seconds, "connections": connections, "cpu": client}
        ratios: dict[str, list[float]] = {op: [] for op in OPERATIONS}
        total = rounds * len(OPERATIONS)
        with ExitStack() as servers:
            for side, info in sides.items():
                if side == "passgate":
                    cmd, cwd, env_of = _passgate_command(info["port"]), tmp, pg_env
                else:
                    cmd, cwd, env_of = info["cmd"], info["root"], peer.server_env()
                servers.enter_context(_server(cmd, info["port"], server, cwd, env_of))
                info["stamps"] = _stamps(info["port"], data)
            # Both servers stay up (the idle one costs nothing); the sides take turns on
            # each operation, so a change in the machine's load hits both alike.
            with click.progressbar(length=total, label="measuring", file=sys.stderr) as bar:
                for _ in range(rounds):
                    for op in OPERATIONS:
                        got = {
                            side: _measure(
                                side,
                                op,
                                tmp,
                                info["port"],
                                data,
                                info["stamps"],
                                counters,
                                **load,
                            )
                            for side, info in sides.items()
                        }
                        for side, r in got.items():
                            runs[side][op].append(r)
                        if "peer" in got:
                            ratios[op].append(
                                got["passgate"]["requests_per_s"] / got["peer"]["requests_per_s"]
                            )
                        bar.update(1)
        result: dict[str, Any] = {
            "passes": passes,
            "seconds": seconds,
            "rounds": rounds,
            "connections": connections,
            "server_cpu": server,
            "client_cpu": client,
            "load_average_start": load_at_start,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "passgate": {
                "pkpass_bytes": sorted(d["pkpass_bytes"] for d in data)[len(data) // 2],
                "server": "passgate serve (uvicorn, 1 process), SQLite",
            },
            "peer": peer_info or {"error": peer_error or "not run (--no-peer)"},
            "operations": {},
        }
        for op in OPERATIONS:
            row: dict[str, Any] = {s: _median_of(runs[s][op]) for s in sides}
            if ratios[op]:
                # Median of the paired (same round) ratios of requests/s.
                row["ratio"] = round(statistics.median(ratios[op]), 2)
                row["ratios"] = [round(x, 2) for x in ratios[op]]
            result["operations"][op] = row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _report(result, as_json)
    if peer_error is not None:
        sys.exit(1)


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    peer_name = result["peer"].get("name")
    click.echo(
        f"PassKit web service, {result['passes']} passes, {result['connections']} connections, "
        f"servers on CPU {result['server_cpu']}, load from CPU {result['client_cpu']}, "
        f"load average {' '.join(str(x) for x in result['load_average'])}"
    )
    click.echo(
        f"peer: {peer_name} on {result['peer']['server']}"
        if peer_name
        else f"peer: {result['peer']['error']}"
    )
    for op, row in result["operations"].items():
        ours = row["passgate"]
        line = f"{op:>14}: Passgate {ours['requests_per_s']:>8} req/s p50 {ours['p50_ms']} ms"
        if "peer" in row:
            line += (
                f" | peer {row['peer']['requests_per_s']:>8} req/s p50 {row['peer']['p50_ms']} ms"
                f" | {row['ratio']}x"
            )
        click.echo(line)
