"""Server-rendered SVG charts for the dashboard (no script, no external library).

Each chart is a standalone SVG document with a <title> and <desc> for screen readers and
every figure also written as text, so the page reads the same without the picture.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

WIDTH = 640
BAR_H = 22
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _doc(title: str, desc: str, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>' + "".join(body) + "</svg>"
    )


def bars(title: str, rows: list[tuple[str, int]], *, color: str = "#2f6f9f") -> str:
    """Horizontal bars, one per label, largest first as given."""
    if not rows:
        return _doc(title, "No events in this range.", 40, [_empty()])
    top = max(n for _, n in rows) or 1
    label_w, plot_w = 200, WIDTH - 200 - 70
    body = []
    for i, (label, n) in enumerate(rows):
        y = 8 + i * BAR_H
        w = max(1, round(plot_w * n / top))
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" {_FONT}>'
            f"{escape(label[:32])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{BAR_H - 6}" fill="{color}">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{label_w + w + 6}" y="{y + 15}" {_FONT}>{n:,}</text>'
        )
    desc = "; ".join(f"{label}: {n}" for label, n in rows)
    return _doc(title, desc, 16 + len(rows) * BAR_H, body)


def timeline(title: str, buckets: list[tuple[int, int, int]], bucket_s: int) -> str:
    """Columns over time: (bucket start in epoch seconds, granted, denied), denials on top."""
    if not buckets:
        return _doc(title, "No taps in this range.", 40, [_empty()])
    height, left, bottom = 200, 48, 28
    plot_h, plot_w = height - bottom - 10, WIDTH - left - 10
    top = max(g + d for _, g, d in buckets) or 1
    first, last = buckets[0][0], buckets[-1][0]
    slots = (last - first) // bucket_s + 1
    col = plot_w / slots
    body = [
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{WIDTH - 10}" y2="{10 + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 6}" y="16" text-anchor="end" {_FONT}>{top:,}</text>',
        f'<text x="{left - 6}" y="{10 + plot_h}" text-anchor="end" {_FONT}>0</text>',
    ]
    for start, granted, denied in buckets:
        x = left + (start - first) // bucket_s * col
        g_h = plot_h * granted / top
        d_h = plot_h * denied / top
        when = _label(start, bucket_s)
        body.append(
            f'<rect x="{x:.1f}" y="{10 + plot_h - g_h:.1f}" width="{max(col - 1, 1):.1f}" '
            f'height="{g_h:.1f}" fill="#3a8a4f"><title>{when}: {granted} granted</title></rect>'
            f'<rect x="{x:.1f}" y="{10 + plot_h - g_h - d_h:.1f}" '
            f'width="{max(col - 1, 1):.1f}" height="{d_h:.1f}" fill="#b8403a">'
            f"<title>{when}: {denied} denied</title></rect>"
        )
    body.append(
        f'<text x="{left}" y="{height - 8}" {_FONT}>{_label(first, bucket_s)}</text>'
        f'<text x="{WIDTH - 10}" y="{height - 8}" text-anchor="end" {_FONT}>'
        f"{_label(last, bucket_s)}</text>"
    )
    granted_total = sum(g for _, g, _ in buckets)
    denied_total = sum(d for _, _, d in buckets)
    desc = (
        f"{granted_total} granted and {denied_total} denied taps from "
        f"{_label(first, bucket_s)} to {_label(last + bucket_s, bucket_s)} UTC, "
        f"per {bucket_s // 60} minutes"
    )
    return _doc(title, desc, height, body)


def _label(epoch: int, bucket_s: int) -> str:
    when = datetime.fromtimestamp(epoch, UTC)
    return when.strftime("%Y-%m-%d" if bucket_s >= 86400 else "%m-%d %H:%M")


def _empty() -> str:
    return f'<text x="8" y="24" {_FONT}>No events in this range.</text>'
