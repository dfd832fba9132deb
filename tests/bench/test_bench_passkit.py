"""`passgate bench passkit` runs end to end in a tiny mode without the peer (figures are not
asserted: CI has no guaranteed package index for django-walletpass)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from passgate.bench import passkit_peer
from passgate.cli import main

OPERATIONS = ("get_200", "get_304", "register", "serials_since")


def test_no_peer_json_has_all_four_operations_and_stdout_holds_only_it() -> None:
    result = CliRunner().invoke(
        main,
        ["bench", "passkit", "--no-peer", "--passes", "3", "--seconds", "0.3", "--rounds", "1",
         "--connections", "2", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["peer"] == {"error": "not run (--no-peer)"}
    assert figures["passes"] == 3 and len(figures["load_average"]) == 3
    assert figures["passgate"]["pkpass_bytes"] > 1000
    for op in OPERATIONS:
        ours = figures["operations"][op]["passgate"]
        assert ours["requests"] > 0 and ours["requests_per_s"] > 0 and ours["p50_ms"] > 0, op
        assert "ratio" not in figures["operations"][op]


def test_an_unreachable_package_index_is_one_clear_message(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """pip pointed at a closed port: PeerUnavailable naming the package, not a traceback."""
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    try:
        passkit_peer.install(tmp_path / "venv")
    except passkit_peer.PeerUnavailable as exc:
        assert "could not install django-walletpass from the package index" in str(exc)
    else:
        raise AssertionError("installing from a closed index succeeded")
