"""Screenshots of dashboard pages at desktop and phone widths (PASSGATE_SCREENSHOTS=DIR)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, ViewportSize

DESKTOP: ViewportSize = {"width": 1200, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def no_sideways_scroll(page: Page) -> None:
    """Nothing on the page is wider than the window (a phone must not scroll sideways)."""
    wide = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert wide <= 0, f"{page.url} is {wide}px wider than the window"


def shots(page: Page, where: Path | None, name: str) -> None:
    """Check the page at phone width (menu button, no overflow) and keep both screenshots."""
    size = page.viewport_size or DESKTOP
    if where is not None:
        page.screenshot(path=str(where / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    if where is not None:
        page.screenshot(path=str(where / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)
