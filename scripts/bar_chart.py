#!/usr/bin/env python3
"""Writes a horizontal bar chart as an SVG file, with no dependency.

`scripts/bench` draws one per in-memory table of BENCHMARKS.md: one bar per
row with its value at its end, coloured by whose row it is (the floor,
cachetool, a peer), and a dashed reference line (the floor's 1.0, or a bound).
Text widths are estimated from the character count: labels are short and the
chart leaves room to spare.
"""
import math
from xml.sax.saxutils import escape

COLORS = {"floor": "#9e9e9e", "cachetool": "#d95f02", "peer": "#1f6fb2"}
FONT = "font-family='Helvetica, Arial, sans-serif'"
CHAR_WIDTH = 7.0  # px, a generous average for 12 px text
ROW, BAR = 26, 16  # px: the height of a row and of its bar
PLOT_WIDTH = 440


def nice_step(top, ticks=5):
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks up to `top`."""
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def show(value, digits, unit):
    return f"{value:,.{digits}f}{unit}"


def bar_chart(path, title, subtitle, bars, reference=None, digits=2, unit="×"):
    """Writes the chart to `path`.

    bars: (label, value, kind) per row, top to bottom; kind is a key of COLORS.
    reference: (value, label) for a dashed vertical line, or None.
    """
    values = [value for _, value, _ in bars] + ([reference[0]] if reference else [])
    step = nice_step(max(values) * 1.05)
    top = step * math.ceil(max(values) * 1.05 / step)
    label_width = max(len(label) for label, _, _ in bars) * CHAR_WIDTH + 16
    value_width = max(len(show(v, digits, unit)) for _, v, _ in bars) * CHAR_WIDTH + 12
    left, plot_top = label_width, 66
    plot_bottom = plot_top + ROW * len(bars)
    width = left + PLOT_WIDTH + value_width
    height = plot_bottom + 34
    x = lambda value: left + PLOT_WIDTH * value / top

    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height}' "
           f"viewBox='0 0 {width:.0f} {height}' {FONT} font-size='12'>",
           f"<title>{escape(title)}</title>",
           f"<rect width='100%' height='100%' fill='white'/>",
           f"<text x='8' y='20' font-size='15' font-weight='bold'>{escape(title)}</text>",
           f"<text x='8' y='38' fill='#444'>{escape(subtitle)}</text>"]
    # Grid and tick labels.
    tick = 0.0
    while tick <= top + step / 1000:
        svg.append(f"<line x1='{x(tick):.1f}' y1='{plot_top - 4}' x2='{x(tick):.1f}' "
                   f"y2='{plot_bottom}' stroke='#e4e4e4'/>")
        svg.append(f"<text x='{x(tick):.1f}' y='{plot_bottom + 16}' text-anchor='middle' "
                   f"fill='#555'>{escape(show(tick, 0 if step >= 1 else 1, unit))}</text>")
        tick += step
    # Bars and labels, then the reference line across them, then the values
    # (on a white outline, so that one written across the line stays readable).
    rows = [(label, value, kind, plot_top + ROW * i + (ROW - BAR) / 2)
            for i, (label, value, kind) in enumerate(bars)]
    for label, value, kind, y in rows:
        svg.append(f"<text x='{left - 8:.1f}' y='{y + BAR - 4:.1f}' text-anchor='end'>{escape(label)}</text>")
        svg.append(f"<rect x='{left:.1f}' y='{y:.1f}' width='{x(value) - left:.1f}' height='{BAR}' "
                   f"fill='{COLORS[kind]}'/>")
    if reference:
        value, label = reference
        svg.append(f"<line x1='{x(value):.1f}' y1='{plot_top - 8}' x2='{x(value):.1f}' y2='{plot_bottom}' "
                   f"stroke='#222' stroke-width='1.5' stroke-dasharray='5,3'/>")
        svg.append(f"<text x='{x(value):.1f}' y='{plot_top - 12}' text-anchor='middle' "
                   f"fill='#222'>{escape(label)}</text>")
    for _, value, _, y in rows:
        svg.append(f"<text x='{x(value) + 4:.1f}' y='{y + BAR - 4:.1f}' stroke='white' stroke-width='3' "
                   f"paint-order='stroke'>{escape(show(value, digits, unit))}</text>")
    svg.append(f"<line x1='{left:.1f}' y1='{plot_top - 4}' x2='{left:.1f}' y2='{plot_bottom}' stroke='#333'/>")
    svg.append("</svg>")
    with open(path, "w") as out:
        out.write("\n".join(svg) + "\n")
