"""The server's logging setup: nothing logs a URL that carries a secret."""

from __future__ import annotations

import logging

import httpx
import pytest

from passgate.logs import configure_logging

PUSH_TOKEN = "a1b2c3" * 10


def test_http_client_requests_are_not_logged_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("info", "console")
        transport = httpx.MockTransport(lambda request: httpx.Response(200))
        with httpx.Client(transport=transport) as client:
            client.post(f"https://api.push.apple.com/3/device/{PUSH_TOKEN}")
        logging.getLogger("passgate.test").info("still logged")
        err = capsys.readouterr().err
        assert "still logged" in err
        assert PUSH_TOKEN not in err
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
