"""Server-rendered SVG charts for the overview page (issue #16): no script, nothing inline that
the Content-Security-Policy would block (presentation attributes only, no style attributes)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bars"]

_WIDTH = 480
_ROW = 22
_LABEL = 140


def bars(items: Sequence[tuple[str, int]], title: str) -> Markup:
    """A horizontal bar chart, one row per item, with a text alternative for screen readers."""
    rows = list(items)[:20]
    height = _ROW * max(len(rows), 1) + 8
    top = max((value for _, value in rows), default=0) or 1
    summary = ", ".join(f"{label}: {value}" for label, value in rows) or "no data"
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img"'
        f' aria-label="{escape(title)}: {escape(summary)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = 4 + i * _ROW
        width = round((_WIDTH - _LABEL - 60) * value / top)
        parts.append(
            f'<text x="{_LABEL - 6}" y="{y + 15}" text-anchor="end" font-size="13"'
            f' fill="currentColor">{escape(label)}</text>'
            f'<rect x="{_LABEL}" y="{y + 3}" width="{width}" height="{_ROW - 6}"'
            f' fill="#2b6cb0"></rect>'
            f'<text x="{_LABEL + width + 6}" y="{y + 15}" font-size="13"'
            f' fill="currentColor">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated label is escaped above)
