"""The emulator's state directory: where the simulated world lives between commands.

Layout (all under one directory, default ``.passgate/sim``)::

    env.json        server URL, organization slug, trusted pass root, push inbox, readers
    accounts.json   what the people know: IdP passwords and their authenticator secrets
    devices/*.json  each iPhone and Watch (its credential key among them, mode 0600)
    wallets/NAME/   each device's Wallet (passes, registration state)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyotp

from passgate.sim.devices import DeviceError, EmulatedDevice, write_private

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class SimError(Exception):
    """A simulated action could not be done; the message is for the person at the keyboard."""


@dataclass
class SimEnv:
    server: str = ""
    org: str = ""
    trust_root_pem: str = ""  # path to the PEM root Wallet trusts for pass signatures
    push_inbox: str = ""  # path of the APNs inbox file the local receiver writes
    readers: dict[str, str] = field(default_factory=dict)  # door name -> "host:port"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    totp_secret: str | None

    def totp_now(self) -> str:
        if not self.totp_secret:
            raise SimError(f"{self.username} has no authenticator enrolled")
        return pyotp.TOTP(self.totp_secret).now()


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise SimError(f"device names are 1-40 letters, digits, '.', '_' or '-'; got {name!r}")
    return name


class SimHome:
    def __init__(self, root: Path) -> None:
        self.root = root

    # --- environment -------------------------------------------------------------------
    def env(self) -> SimEnv:
        path = self.root / "env.json"
        if not path.exists():
            return SimEnv()
        return SimEnv(**json.loads(path.read_text()))

    def save_env(self, env: SimEnv) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_private(self.root / "env.json", json.dumps(asdict(env), indent=2, sort_keys=True))

    # --- accounts (what the member knows and their authenticator app holds) ------------
    def _accounts(self) -> dict[str, dict[str, str | None]]:
        path = self.root / "accounts.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def save_account(self, account: Account) -> None:
        accounts = self._accounts()
        accounts[account.username] = {
            "password": account.password,
            "totp_secret": account.totp_secret,
        }
        write_private(self.root / "accounts.json", json.dumps(accounts, indent=2, sort_keys=True))

    def account(self, username: str) -> Account:
        raw = self._accounts().get(username)
        if raw is None:
            raise SimError(f"no account {username!r}; add it with `passgate sim account`")
        return Account(username, str(raw["password"]), raw.get("totp_secret"))

    # --- devices -----------------------------------------------------------------------
    def device_path(self, name: str) -> Path:
        return self.root / "devices" / f"{check_name(name)}.json"

    def wallet_dir(self, name: str) -> Path:
        return self.root / "wallets" / check_name(name)

    def device(self, name: str) -> EmulatedDevice:
        path = self.device_path(name)
        if not path.exists():
            raise SimError(f"no device named {name!r}")
        try:
            return EmulatedDevice.load(path)
        except DeviceError as exc:
            raise SimError(str(exc)) from exc

    def devices(self) -> list[EmulatedDevice]:
        folder = self.root / "devices"
        if not folder.exists():
            return []
        return [EmulatedDevice.load(p) for p in sorted(folder.glob("*.json"))]

    def watch_of(self, iphone: str) -> EmulatedDevice | None:
        """The watch paired with ``iphone`` (pairing a new watch unpairs the previous one)."""
        watches = [
            d for d in self.devices() if d.state.kind == "watch" and d.state.paired_with == iphone
        ]
        return watches[-1] if watches else None
