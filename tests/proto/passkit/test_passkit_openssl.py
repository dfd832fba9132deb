"""A third party checks our signature with the openssl CLI, exactly as documented."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from passgate.proto.passkit import DevChain, PassSigner, build_pkpass

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _extract(pkpass: bytes, target: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        archive.extractall(target)


def _openssl_verify(
    directory: Path, root_pem: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER",
        "-in", str(directory / "signature"), "-content", str(directory / "manifest.json"),
        "-CAfile", str(root_pem), "-out", str(directory / "verified.out"), *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


@pytest.mark.parametrize("pass_time", [True, False], ids=["assembled", "library-builder"])
def test_openssl_accepts_our_signature_and_rejects_tampering(
    tmp_path: Path,
    pass_files: dict[str, bytes],
    signer: PassSigner,
    dev_chain: DevChain,
    now: datetime,
    pass_time: bool,
) -> None:
    pkpass = build_pkpass(pass_files, signer, signing_time=now if pass_time else None)
    _extract(pkpass, tmp_path)
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(dev_chain.root_pem)

    result = _openssl_verify(tmp_path, root_pem, "-purpose", "any")
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert (tmp_path / "verified.out").read_bytes() == (tmp_path / "manifest.json").read_bytes()

    manifest = bytearray((tmp_path / "manifest.json").read_bytes())
    manifest[10] ^= 0x01
    (tmp_path / "manifest.json").write_bytes(bytes(manifest))
    tampered = _openssl_verify(tmp_path, root_pem, "-purpose", "any")
    assert tampered.returncode != 0


def test_openssl_rejects_a_strangers_root(
    tmp_path: Path, pkpass: bytes, other_chain: DevChain
) -> None:
    _extract(pkpass, tmp_path)
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(other_chain.root_pem)
    assert _openssl_verify(tmp_path, root_pem, "-purpose", "any").returncode != 0
