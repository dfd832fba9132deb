"""Pass signing certificates: configured ones are checked, development ones are made.

Production reads the pass certificate, its key and the WWDR intermediate from the
configured PEM files and refuses to go on when ``check_pass_certificate`` finds a
problem (expired, not issued by the WWDR, another pass type or team). Development
mode without configured files makes a local chain once and keeps it under the data
directory, so passes stay verifiable across restarts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from passgate.config import Settings
from passgate.domain.errors import PreconditionFailed
from passgate.proto.passkit import DevChain, PassSigner, check_pass_certificate, make_dev_chain

DEV_FILES = {
    "root.pem": "root_pem",
    "wwdr.pem": "wwdr_pem",
    "pass.pem": "pass_cert_pem",
    "pass.key": "pass_key_pem",
}


@dataclass(frozen=True)
class PassCertificates:
    signer: PassSigner
    root_pem: bytes | None  # the development root, when a dev chain is in use
    source: str  # "configured" | "development"


def write_dev_chain(chain: DevChain, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, attr in DEV_FILES.items():
        path = out_dir / name
        # The key file is created private from the start, never chmod-ed after writing.
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if name.endswith(".key") else 0o644
        )
        with os.fdopen(fd, "wb") as fh:
            fh.write(getattr(chain, attr))


def _read_dev_chain(out_dir: Path) -> DevChain | None:
    if not all((out_dir / name).is_file() for name in DEV_FILES):
        return None
    values = {attr: (out_dir / name).read_bytes() for name, attr in DEV_FILES.items()}
    return DevChain(**values)


def configured_problems(settings: Settings, now: datetime) -> list[str]:
    paths = (settings.pass_cert_path, settings.pass_key_path, settings.pass_wwdr_path)
    if any(p is None for p in paths):
        return [
            "PASSGATE_PASS_CERT_PATH, PASSGATE_PASS_KEY_PATH and PASSGATE_PASS_WWDR_PATH "
            "must all be set outside development mode"
        ]
    cert, key, wwdr = (Path(str(p)) for p in paths)
    missing = [str(p) for p in (cert, key, wwdr) if not p.is_file()]
    if missing:
        return [f"cannot read {', '.join(missing)}"]
    password = settings.pass_key_password
    return check_pass_certificate(
        pass_cert_pem=cert.read_bytes(),
        wwdr_pem=wwdr.read_bytes(),
        pass_type_identifier=settings.pass_type_identifier,
        team_identifier=settings.team_identifier,
        now=now,
        pass_key_pem=key.read_bytes(),
        key_password=password.get_secret_value().encode() if password else None,
    )


def load_pass_certificates(settings: Settings, now: datetime) -> PassCertificates:
    if settings.pass_cert_path is None and settings.dev_mode:
        out_dir = Path(settings.data_dir) / "passkit-dev"
        chain = _read_dev_chain(out_dir)
        if chain is None or check_pass_certificate(
            pass_cert_pem=chain.pass_cert_pem,
            wwdr_pem=chain.wwdr_pem,
            pass_type_identifier=settings.pass_type_identifier,
            team_identifier=settings.team_identifier,
            now=now,
        ):
            chain = make_dev_chain(
                pass_type_identifier=settings.pass_type_identifier,
                team_identifier=settings.team_identifier,
                now=now,
            )
            write_dev_chain(chain, out_dir)
        signer = PassSigner.from_pem(chain.pass_cert_pem, chain.pass_key_pem, chain.wwdr_pem)
        return PassCertificates(signer=signer, root_pem=chain.root_pem, source="development")
    problems = configured_problems(settings, now)
    if problems:
        raise PreconditionFailed(
            "the pass certificate cannot be used: " + "; ".join(problems),
            code="pass_certificate_invalid",
        )
    password = settings.pass_key_password
    signer = PassSigner.from_pem(
        Path(str(settings.pass_cert_path)).read_bytes(),
        Path(str(settings.pass_key_path)).read_bytes(),
        Path(str(settings.pass_wwdr_path)).read_bytes(),
        password.get_secret_value().encode() if password else None,
    )
    return PassCertificates(signer=signer, root_pem=None, source="configured")
