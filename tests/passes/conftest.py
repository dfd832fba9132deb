"""Apple Pass tests: a development certificate chain shared by the session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import OPERATOR_KEY, SECRET_KEY
from tests.passes.helpers import MemberApp, eligible_member

from passgate.adapters.passcerts import write_dev_chain
from passgate.config import Settings
from passgate.proto.passkit import DevChain, make_dev_chain

PASS_TYPE = "pass.test.passgate.door"
TEAM = "TEAMTEST01"


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevChain, Path]:
    out = tmp_path_factory.mktemp("passkit-chain")
    chain = make_dev_chain(
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        now=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
    )
    write_dev_chain(chain, out)
    return chain, out


@pytest.fixture
def settings(database_url: str, dev_chain: tuple[DevChain, Path]) -> Settings:
    _, out = dev_chain
    return Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=OPERATOR_KEY,
        secret_key=SECRET_KEY,
        webhook_retry_base_s=0.01,
        public_url="https://passgate.example.com",
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        pass_cert_path=str(out / "pass.pem"),
        pass_key_path=str(out / "pass.key"),
        pass_wwdr_path=str(out / "wwdr.pem"),
    )


@pytest.fixture
def member(client: TestClient) -> MemberApp:
    return eligible_member(client)
