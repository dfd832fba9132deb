"""Shared fixtures: one development chain per test session (RSA key generation is slow)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography import x509
from tests.proto.passkit.passkit_helpers import PASS_TYPE, TEAM, make_content

from passgate.proto.passkit import (
    DevChain,
    PassSigner,
    build_pass_json,
    build_pkpass,
    default_images,
    make_dev_chain,
)
from passgate.proto.passkit.archive import write_archive


@pytest.fixture(scope="session")
def now() -> datetime:
    # The real time, because the openssl CLI checks certificate validity against it.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def dev_chain(now: datetime) -> DevChain:
    return make_dev_chain(pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=now)


@pytest.fixture(scope="session")
def other_chain(now: datetime) -> DevChain:
    """A second, unrelated chain for the same identifiers: a stranger's certificates."""
    return make_dev_chain(pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=now)


@pytest.fixture(scope="session")
def signer(dev_chain: DevChain) -> PassSigner:
    return PassSigner.from_pem(dev_chain.pass_cert_pem, dev_chain.pass_key_pem, dev_chain.wwdr_pem)


@pytest.fixture(scope="session")
def root(dev_chain: DevChain) -> x509.Certificate:
    return x509.load_pem_x509_certificate(dev_chain.root_pem)


@pytest.fixture(scope="session")
def pass_files() -> dict[str, bytes]:
    return {"pass.json": build_pass_json(make_content()), **default_images()}


@pytest.fixture(scope="session")
def pkpass(pass_files: dict[str, bytes], signer: PassSigner, now: datetime) -> bytes:
    return build_pkpass(pass_files, signer, signing_time=now)


@pytest.fixture(scope="session")
def rezip() -> Callable[[dict[str, bytes]], bytes]:
    """Zip arbitrary files as-is (no manifest or signature computed): to forge passes."""

    def _rezip(files: dict[str, bytes]) -> bytes:
        return write_archive(sorted(files.items()))

    return _rezip
