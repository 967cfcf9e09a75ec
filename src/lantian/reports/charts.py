"""Static charts for printed reports: small inline SVG (ECharts needs a browser, PDFs don't).

Each function returns an ``<svg>`` string sized in CSS pixels; text is escaped. Colours:
compliant hours green, exceedance red, invalid grey, non-production light grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["daily_bars_svg", "hours_bars_svg", "ranking_bars_svg"]

_GREEN, _RED, _GREY, _LIGHT, _BLUE = "#2e7d32", "#c62828", "#9e9e9e", "#e0e0e0", "#1565c0"
_FONT = "font-family:'Noto Sans CJK SC',sans-serif;font-size:10px"


def hours_bars_svg(items: Sequence[tuple[str, dict[str, Any]]], width: int = 640) -> str:
    """Stacked horizontal bar per point: compliant / exceedance / invalid / stop hours [h].

    ``items`` are (label, figures) with ``compliant_hours``, ``exceedance_hours``,
    ``invalid_hours``, ``stop_hours`` (an hour both exceeding and invalid is drawn once,
    as exceedance; the rest of the production hours as invalid).
    """
    row_h, left = 22, 170
    height = row_h * max(1, len(items)) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'style="{_FONT}" role="img">']
    for i, (label, f) in enumerate(items):
        total = (f["production_hours"] + f["stop_hours"]) or 1
        scale = (width - left - 10) / total
        ok, exc = f["compliant_hours"], f["exceedance_hours"]
        other = max(0, f["production_hours"] - ok - exc)
        y, x = 5 + i * row_h, left
        parts.append(f'<text x="0" y="{y + 13}">{escape(label)}</text>')
        for n, colour in ((ok, _GREEN), (exc, _RED), (other, _GREY), (f["stop_hours"], _LIGHT)):
            w = n * scale
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="16" '
                             f'fill="{colour}"><title>{n}</title></rect>')
            x += w
    y = height - 8
    for j, (name, colour) in enumerate((("达标 compliant", _GREEN), ("超标 exceedance", _RED),
                                         ("无效 invalid", _GREY), ("停产 stop", _LIGHT))):
        parts.append(f'<rect x="{left + j * 115}" y="{y - 8}" width="9" height="9" '
                     f'fill="{colour}"/><text x="{left + j * 115 + 12}" y="{y}">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def daily_bars_svg(days: Sequence[dict[str, Any]], width: int = 640, height: int = 150) -> str:
    """Bar per day: production hours (grey) with compliant hours (green) over it [h/day]."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'style="{_FONT}" role="img">']
    if days:
        plot_h, base = height - 30, height - 18
        bw = (width - 30) / len(days)
        parts.append(f'<text x="0" y="10">24 h</text><line x1="28" y1="{base - plot_h}" '
                     f'x2="{width}" y2="{base - plot_h}" stroke="{_LIGHT}"/>')
        for i, d in enumerate(days):
            x = 28 + i * bw
            for n, colour in ((d["production"], _GREY), (d["compliant"], _GREEN)):
                h = plot_h * n / 24
                parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bw * 0.8:.1f}" '
                             f'height="{h:.1f}" fill="{colour}"/>')
            if i % 5 == 0:
                parts.append(f'<text x="{x:.1f}" y="{height - 4}">'
                             f'{escape(str(d["day"])[5:10])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def ranking_bars_svg(items: Sequence[tuple[str, float]], width: int = 640) -> str:
    """Horizontal bars of a ranking (e.g. composite index, 综合指数), largest first."""
    row_h, left = 18, 120
    top = max((v for _, v in items), default=1.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{row_h * max(1, len(items)) + 6}" style="{_FONT}" role="img">']
    for i, (label, v) in enumerate(items):
        y = 3 + i * row_h
        w = (width - left - 50) * v / top
        parts.append(f'<text x="0" y="{y + 11}">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y}" width="{w:.1f}" height="13" fill="{_BLUE}"/>'
                     f'<text x="{left + w + 4:.1f}" y="{y + 11}">{v:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)
