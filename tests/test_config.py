"""Typed settings from PASSGATE_* variables; weak secrets are refused at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from passgate.config import Settings


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSGATE_PORT", "9001")
    monkeypatch.setenv("PASSGATE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.port == 9001 and not settings.is_sqlite
    assert settings.run_worker_in_process is False


@pytest.mark.parametrize("value", ["changeme", "short-secret", "x" * 31])
def test_placeholder_or_short_secrets_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="PASSGATE_OPERATOR_KEY"):
        Settings(operator_key=value)
    with pytest.raises(ValidationError, match="PASSGATE_SECRET_KEY"):
        Settings(secret_key=value)


def test_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSGATE_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_secrets_never_appear_in_the_settings_repr() -> None:
    secret = "s" * 40
    assert secret not in repr(Settings(secret_key=secret, operator_key="o" * 40))


def test_the_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [n for n in Settings.model_fields if f"`PASSGATE_{n.upper()}`" not in readme]
    assert missing == []
