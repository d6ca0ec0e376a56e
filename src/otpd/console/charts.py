"""Server-rendered SVG charts for the overview page (issue #16): no script, nothing inline that
the Content-Security-Policy would block (presentation attributes only, no style attributes)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bars", "columns", "stacked_columns"]

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
    if not rows:
        parts.append('<text x="6" y="19" font-size="13" fill="currentColor">none</text>')
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


# One colour per verification outcome; the legend names them (colour is never the only cue:
# the text alternative lists every count).
_COLOURS = {
    "accepted": "#2f855a",
    "rejected": "#c05621",
    "replayed": "#6b46c1",
    "throttled": "#c53030",
    "unknown": "#718096",
}
_PLOT_H = 160


def stacked_columns(buckets: Sequence[dict[str, int]], title: str, unit: str) -> Markup:
    """One column per bucket (oldest left), stacked by key, with a legend and a summary."""
    count = max(len(buckets), 1)
    step = (_WIDTH - 40) / count
    top = max((sum(b.values()) for b in buckets), default=0) or 1
    totals = {k: sum(b.get(k, 0) for b in buckets) for k in _COLOURS}
    summary = ", ".join(f"{k}: {v}" for k, v in totals.items())
    height = _PLOT_H + 50
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img"'
        f' aria-label="{escape(title)}, totals over {count} {escape(unit)}: {escape(summary)}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="12" font-size="12" fill="currentColor">{top}</text>',
        f'<line x1="36" y1="{_PLOT_H + 4}" x2="{_WIDTH}" y2="{_PLOT_H + 4}"'
        ' stroke="currentColor" stroke-width="1"></line>',
    ]
    for i, bucket in enumerate(buckets):
        y = _PLOT_H + 4.0
        for key, colour in _COLOURS.items():
            value = bucket.get(key, 0)
            if value:
                h = _PLOT_H * value / top
                y -= h
                parts.append(
                    f'<rect x="{40 + i * step:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}"'
                    f' height="{h:.1f}" fill="{colour}"></rect>'
                )
    for j, (key, colour) in enumerate(_COLOURS.items()):
        x = 40 + j * 88
        parts.append(
            f'<rect x="{x}" y="{_PLOT_H + 24}" width="10" height="10" fill="{colour}"></rect>'
            f'<text x="{x + 14}" y="{_PLOT_H + 34}" font-size="12" fill="currentColor">'
            f"{escape(key)} {totals[key]}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated label is escaped above)


def columns(items: Sequence[tuple[str, int]], title: str) -> Markup:
    """A vertical column per item (a histogram), labelled below, the count above."""
    rows = list(items)[:40]
    count = max(len(rows), 1)
    step = (_WIDTH - 20) / count
    top = max((value for _, value in rows), default=0) or 1
    summary = ", ".join(f"{label}: {value}" for label, value in rows) or "no data"
    height = _PLOT_H + 40
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img"'
        f' aria-label="{escape(title)}: {escape(summary)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        x = 10 + i * step
        h = (_PLOT_H - 20) * value / top
        y = _PLOT_H - h
        mid = x + step / 2
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}"'
            f' height="{h:.1f}" fill="#2b6cb0"></rect>'
            f'<text x="{mid:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="12"'
            f' fill="currentColor">{value}</text>'
            f'<text x="{mid:.1f}" y="{_PLOT_H + 18}" text-anchor="middle" font-size="13"'
            f' fill="currentColor">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated label is escaped above)
