"""The development IdP's users: a small JSON file of email, password hash and TOTP secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import pyotp

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_b64, _, digest_b64 = rest.partition("$")
    if scheme != "scrypt" or not salt_b64 or not digest_b64:
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt_b64), n=_N, r=_R, p=_P, dklen=32
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@dataclass(frozen=True)
class DevUser:
    username: str
    email: str
    password_hash: str
    totp_secret: str

    @property
    def subject(self) -> str:
        # Stable per username; never the email, which may change.
        return "dev-" + hashlib.sha256(self.username.encode()).hexdigest()[:24]

    def totp_ok(self, code: str) -> bool:
        return pyotp.TOTP(self.totp_secret).verify(code.strip(), valid_window=1)


def new_user(username: str, email: str, password: str) -> DevUser:
    return DevUser(username, email, hash_password(password), pyotp.random_base32())


def load_users(path: Path) -> dict[str, DevUser]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    users = [DevUser(**u) for u in raw.get("users", [])]
    return {u.username: u for u in users}


def save_users(path: Path, users: dict[str, DevUser]) -> None:
    body = {"users": [asdict(u) for u in users.values()]}
    path.write_text(json.dumps(body, indent=2) + "\n")
    path.chmod(0o600)
