"""Start (and stop) the demo: configuration, seed, every service, the emulator's settings.

Everything the demo makes lives under one data directory, so a second `passgate demo`
continues the same world: the SQLite database, the development pass certificate chain,
the IdP's users, the readers' caches and the emulated devices (``sim/``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.adapters.db import migrate as mig
from passgate.bootstrap import Container, build_container
from passgate.config import Settings
from passgate.demo.services import DemoReader, ServerThread, free_port
from passgate.devidp.app import DevClient, create_devidp_app
from passgate.devidp.users import DevUser, load_users, new_user, save_users
from passgate.services.seed import ADMIN_EMAIL, DEMO_SLUG, MEMBER_EMAIL, DemoIdp, seed_demo
from passgate.sim.apns_receiver import ApnsReceiver, ReceiverThread
from passgate.sim.home import Account, SimEnv, SimHome
from passgate.sim.push import InboxWriter
from passgate.web.app import create_app
from passgate.worker.dispatcher import Dispatcher

TEAM = "PASSGATE00"
START_STEPS = 6  # the calls of start()'s progress callback
APNS_KEY_ID = "DEMOKEY001"
CLIENT_ID = "passgate"
# username -> email; the IdP maps people to members by verified email.
DEMO_PEOPLE = {"alice": MEMBER_EMAIL, "ada": ADMIN_EMAIL}


def _secret_file(path: Path, make: str | None = None) -> str:
    """Read a secret kept in the data directory, creating it (0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    value = make or secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


@dataclass
class DemoStack:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    idp_port: int = 8001
    passwords: dict[str, str] = field(default_factory=dict)
    totp_secrets: dict[str, str] = field(default_factory=dict)
    readers: dict[str, DemoReader] = field(default_factory=dict)
    reader_ids: dict[str, str] = field(default_factory=dict)
    api_token: str = ""
    operator_key: str = ""
    org_id: str = ""

    def __post_init__(self) -> None:
        self._stoppers: list[object] = []
        self.container: Container | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def idp_url(self) -> str:
        return f"http://{self.host}:{self.idp_port}"

    @property
    def sim_home(self) -> SimHome:
        return SimHome(self.data_dir / "sim")

    # --- pieces ------------------------------------------------------------------------
    def _apns_key(self) -> Path:
        path = self.data_dir / "apns-token.key"
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            _secret_file(path, pem.strip())
        return path

    def _users(self) -> dict[str, DevUser]:
        path = self.data_dir / "devidp-users.json"
        users = load_users(path)
        passwords_path = self.data_dir / "demo-passwords.json"
        passwords = json.loads(passwords_path.read_text()) if passwords_path.exists() else {}
        for username, email in DEMO_PEOPLE.items():
            if username not in users or username not in passwords:
                passwords[username] = f"{username}-{secrets.token_hex(4)}"
                users[username] = new_user(username, email, passwords[username])
        save_users(path, users)
        passwords_path.touch(mode=0o600)
        passwords_path.write_text(json.dumps(passwords, indent=2))
        self.passwords = {u: passwords[u] for u in DEMO_PEOPLE}
        self.totp_secrets = {u: users[u].totp_secret for u in DEMO_PEOPLE}
        return users

    def settings(self, apns_url: str) -> Settings:
        return Settings(
            database_url=f"sqlite:///{(self.data_dir / 'passgate.db').resolve()}",
            dev_mode=True,
            host=self.host,
            port=self.port,
            log_format="console",
            log_level="warning",
            public_url=self.base_url,
            data_dir=str(self.data_dir),
            operator_key=self.operator_key,
            apns_url=apns_url,
            apns_team_id=TEAM,
            apns_key_id=APNS_KEY_ID,
            apns_token_key_path=str(self._apns_key()),
            apns_retry_base_s=0.2,
        )

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, progress: Callable[[str], None] | None = None) -> None:
        """Start every part; ``progress`` hears the name of each of START_STEPS as it is done."""
        done = progress or (lambda _step: None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.operator_key = _secret_file(self.data_dir / "operator-key")
        client_secret = _secret_file(self.data_dir / "devidp-client-secret")
        users = self._users()
        inbox = self.data_dir / "sim" / "apns-inbox.jsonl"

        key = serialization.load_pem_private_key(self._apns_key().read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        receiver = ApnsReceiver(provider_key=key.public_key(), team_id=TEAM)
        receiver.add_listener(InboxWriter(inbox))
        apns = ReceiverThread(receiver, host=self.host)
        apns.start()
        self._stoppers.append(apns)
        done("APNs receiver")

        settings = self.settings(apns.base_url)
        c = build_container(settings)
        self.container = c
        c.pass_certificates  # noqa: B018 - makes (or checks) the dev chain now, not mid-request
        mig.upgrade(c.engine)
        done("database and pass certificates")
        seeded = seed_demo(
            c.uow_factory,
            c.clock.now(),
            idp=DemoIdp(self.idp_url, CLIENT_ID, client_secret),
            box=c.secret_box,
        )
        self.org_id = seeded.org.id
        self.reader_ids = seeded.readers
        token_file = self.data_dir / "api-token"
        self.api_token = _secret_file(token_file, seeded.api_token)
        done("demo organization")

        idp = create_devidp_app(
            issuer=self.idp_url,
            users=users,
            clients=[
                DevClient(
                    CLIENT_ID, (f"{self.base_url}/sso/{DEMO_SLUG}/oidc/callback",), client_secret
                )
            ],
        )
        for app, port in ((create_app(c), self.port), (idp, self.idp_port)):
            server = ServerThread(app, self.host, port)
            server.start()
            self._stoppers.append(server)
        done("server and development IdP")
        dispatcher = Dispatcher(c, poll_interval_s=0.1)
        dispatcher.start_thread()
        self._stoppers.append(dispatcher)
        done("outbox worker")
        self._start_readers()
        self._write_sim_env(inbox)
        done(f"{len(self.readers)} reader agents")

    def _start_readers(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_token}"}
        for door, reader_id in sorted(self.reader_ids.items()):
            safe = "".join(ch if ch.isalnum() else "-" for ch in door.lower())
            reader = DemoReader(door, str(self.data_dir / f"reader-{safe}.db"), self.host)
            if reader.agent.reader_id != reader_id:
                r = httpx.post(
                    f"{self.base_url}/api/v1/readers/{reader_id}/pairing_code", headers=headers
                )
                r.raise_for_status()
                reader.pair(self.base_url, r.json()["code"])
            reader.start()
            self.readers[door] = reader

    def _write_sim_env(self, inbox: Path) -> None:
        home = self.sim_home
        home.save_env(
            SimEnv(
                server=self.base_url,
                org=DEMO_SLUG,
                trust_root_pem=str((self.data_dir / "passkit-dev" / "root.pem").resolve()),
                push_inbox=str(inbox.resolve()),
                readers={door: r.address for door, r in self.readers.items()},
            )
        )
        for username in DEMO_PEOPLE:
            home.save_account(
                Account(username, self.passwords[username], self.totp_secrets[username])
            )

    def stop(self) -> None:
        for reader in self.readers.values():
            reader.stop()
        self.readers.clear()
        for item in reversed(self._stoppers):
            item.stop()  # type: ignore[attr-defined]
        self._stoppers.clear()
        if self.container is not None:
            self.container.close()
            self.container = None


def pick_ports(host: str) -> tuple[int, int]:
    return free_port(host), free_port(host)
