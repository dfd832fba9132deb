"""Browser fixtures: Playwright driving the distribution's Chromium (no browser download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    for candidate in (
        os.environ.get("PASSGATE_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("Chromium not found: install the chromium package (make test does as root)")


# Module scope: Playwright's sync API keeps an event loop running on the main thread
# while it is open, which would break later tests that start their own loop.
@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    b = playwright_session.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def screenshot_dir() -> Path | None:
    """Set PASSGATE_SCREENSHOTS=DIR to keep a screenshot of every page the tests visit."""
    target = os.environ.get("PASSGATE_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path


# Dashboard tests run with Wallet signing configured, as the Apple Pass tests do.
from tests.passes.conftest import dev_chain, settings  # noqa: E402,F401


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the administration tests write each page at desktop and phone widths:
    PASSGATE_SCREENSHOTS=DIR keeps them, otherwise they go to the test's tmp dir."""
    target = os.environ.get("PASSGATE_SCREENSHOTS")
    path = Path(target) if target else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
