"""Development mode (fixed server secret, built-in IdP) serves on loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_cli_errors import _invoke, _one_clear_line

from passgate.config import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "passgate.example.com"])
def test_dev_mode_refuses_a_non_loopback_address(host: str) -> None:
    with pytest.raises(ValueError, match="loopback address only"):
        Settings(dev_mode=True, host=host).require_safe_bind()
    Settings(dev_mode=False, host=host).require_safe_bind()  # production binds anywhere


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_dev_mode_binds_loopback(host: str) -> None:
    Settings(dev_mode=True, host=host).require_safe_bind()


def test_serve_dev_on_all_interfaces_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "PASSGATE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        "PASSGATE_DATA_DIR": str(tmp_path),
    }
    result = _invoke(["serve", "--dev", "--host", "0.0.0.0"], env, monkeypatch)
    _one_clear_line(result, "loopback address only", "0.0.0.0")


def test_demo_on_all_interfaces_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"PASSGATE_DATA_DIR": str(tmp_path)}
    result = _invoke(["demo", "--data-dir", str(tmp_path), "--host", "0.0.0.0"], env, monkeypatch)
    _one_clear_line(result, "loopback address only", "0.0.0.0")
    assert not (tmp_path / "passgate.db").exists()  # refused before anything started
