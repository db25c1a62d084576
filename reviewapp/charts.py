"""Geometry of the server-rendered SVG charts (dashboard trends, the gate interval), from data.

One panel per rate (false refusals next to true refusals and missed harm), the same periods on
every x axis, one coloured series per model version, each point with its 95% interval as an
error bar. The function returns numbers and strings only; the template escapes every label and
styles through CSS classes and SVG presentation attributes (no style attributes: the CSP).
"""

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

PANEL_WIDTH = 380
MARGIN_LEFT = 52
MARGIN_RIGHT = 18
MARGIN_TOP = 36
PLOT_HEIGHT = 170
# Text metrics of the chart's 12px labels, erring wide: an estimate too narrow would let labels
# touch. A wide (CJK) character takes a full em.
FONT_SIZE = 12
CHAR_WIDTH = 0.66 * FONT_SIZE
WIDE_CHAR_WIDTH = FONT_SIZE
LINE_HEIGHT = 15
LABEL_GAP = 8  # least space between two neighbouring labels
TICK_LABEL_LIMIT = 28  # characters of an x-axis label (the full one is its tooltip)
WRAP_LINES = 2
LEGEND_LABEL_LIMIT = 48
LEGEND_ROW = 22
LEGEND_SWATCH = 24  # swatch and the space before the label
NICE_MAXIMA = (0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0)
# Okabe & Ito's colour-blind-safe palette, in the order that reads best on white (their yellow
# last); a ninth series and later repeat the colours with a dashed line.
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)


@dataclass(frozen=True)
class ChartPoint:
    period: str
    series: str
    estimate: float | None
    lower: float | None
    upper: float | None


@dataclass
class Panel:
    title: str
    x: float
    y: float
    width: float
    height: float
    y_ticks: list[dict] = field(default_factory=list)
    x_ticks: list[dict] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)
    markers: list[dict] = field(default_factory=list)


@dataclass
class Chart:
    width: float
    height: float
    panels: list[Panel]
    legend: list[dict]
    periods: list[str]
    empty: bool
    x_labels: str  # "horizontal", "wrapped" or "rotated"
    axis_label_y: float


def nice_maximum(value: float) -> float:
    for candidate in NICE_MAXIMA:
        if value <= candidate:
            return candidate
    return 1.0


def text_width(text: str) -> float:
    """The width of a 12px label, estimated from its characters."""
    return sum(
        WIDE_CHAR_WIDTH if unicodedata.east_asian_width(c) in "WF" else CHAR_WIDTH for c in text
    )


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut in the middle: names of a series (round 1, round 2; a
    model's -10 and -11 builds) tend to differ at their ends, and both ends stay readable."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 3
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def _shared_start(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def shorten_apart(texts: Sequence[str], limit: int) -> list[str]:
    """Each text shortened so that it is still told apart from the others: where it shares a
    long beginning with another ("Support-chat weekly audit round 1", "… round 2"), that
    beginning goes instead of the part where they differ."""
    head = (limit - 1) // 3
    out = []
    for text in texts:
        shared = max((_shared_start(text, other) for other in texts if other != text), default=0)
        start = shared - 6 if len(text) > limit and shared >= head else 0
        out.append(shorten("…" + text[start:] if start > 0 else text, limit))
    return out


def wrap(text: str, width: float) -> list[str]:
    """Lines of at most `width`, broken after a separator where one is near, else anywhere."""
    lines, line = [], ""
    for c in text:
        if line and text_width(line + c) > width:
            cut = max(line.rfind(sep) for sep in " -_/.:")
            if cut > len(line) // 2:
                lines.append(line[: cut + 1].rstrip())
                line = line[cut + 1 :].lstrip()
            else:
                lines.append(line)
                line = ""
        line += c
    return [*lines, line] if line else lines


def x_axis(labels: Sequence[str], centres: Sequence[float], step: float, top: float) -> tuple:
    """Tick labels that never overlap: on one line if they fit, else wrapped onto two lines,
    else rotated to read upwards, and then only every k-th one if even that is too tight.

    Returns (mode, ticks, depth): each tick has x, y, lines, rotated, full (the tooltip) and
    box (x0, y0, x1, y1), the label's extent; depth is how far the labels reach below `top`.
    """
    texts = shorten_apart(labels, TICK_LABEL_LIMIT)
    room = step - LABEL_GAP
    wrapped = [wrap(text, room) for text in texts] if room > CHAR_WIDTH * 3 else []
    if all(text_width(text) <= room for text in texts):
        mode, lines = "horizontal", [[text] for text in texts]
    elif wrapped and all(len(w) <= WRAP_LINES for w in wrapped):
        mode, lines = "wrapped", wrapped
    else:
        mode, lines = "rotated", [[text] for text in texts]
    every = math.ceil((LINE_HEIGHT + 2) / step) if mode == "rotated" else 1
    ticks, depth = [], 0.0
    for i, (label, x, text_lines) in enumerate(zip(labels, centres, lines, strict=True)):
        if i % every:
            continue
        x = round(x, 2)
        if mode == "rotated":
            y = top + 4
            length = text_width(text_lines[0])
            box = (x - LINE_HEIGHT / 2, y, x + LINE_HEIGHT / 2, y + length)
        else:
            y = top + FONT_SIZE + 4
            half = max(text_width(line) for line in text_lines) / 2
            box = (x - half, y - FONT_SIZE, x + half, y - FONT_SIZE + LINE_HEIGHT * len(text_lines))
        depth = max(depth, box[3] - top)
        ticks.append(
            {"x": x, "y": round(y, 2), "lines": text_lines, "rotated": mode == "rotated",
             "full": label, "box": tuple(round(v, 2) for v in box)}
        )  # fmt: skip
    return mode, ticks, depth


def legend_layout(series: Sequence[str], colours: dict[str, dict], width: float, top: float):
    """Legend entries flowing left to right, a new row when the next one would not fit."""
    entries, x, y = [], 12.0, top
    for name, label in zip(series, shorten_apart(series, LEGEND_LABEL_LIMIT), strict=True):
        extent = LEGEND_SWATCH + text_width(label)
        if x > 12 and x + extent > width - 12:
            x, y = 12.0, y + LEGEND_ROW
        entries.append(
            {"label": label, "full": name, **colours[name], "x": round(x, 2), "y": round(y, 2),
             "box": (round(x, 2), round(y - FONT_SIZE, 2), round(x + extent, 2), round(y + 3, 2))}
        )  # fmt: skip
        x += extent + 2 * LABEL_GAP
    return entries, (y - top + LEGEND_ROW if entries else 0)


def series_style(index: int) -> dict:
    return {
        "colour": PALETTE[index % len(PALETTE)],
        "dash": "" if index < len(PALETTE) else "6 3",
        "css": f"series-{index}",
    }


def trend_chart(
    points_by_metric: dict[str, Sequence[ChartPoint]],
    titles: dict[str, str],
    periods: Sequence[str],
    series: Sequence[str],
    markers: Sequence[tuple[str | None, str]] = (),
) -> Chart:
    """Panels side by side, one per metric in `titles` order.

    markers: (period, label) of events such as policy publications, drawn as a vertical line
    just before that period; period None: after the last one.
    """
    panels = []
    n = max(len(periods), 1)
    plot_w = PANEL_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = PLOT_HEIGHT
    step = plot_w / n
    period_x = {p: i * step + step / 2 for i, p in enumerate(periods)}
    styles = {s: series_style(i) for i, s in enumerate(series)}
    # Series side by side within a period, so that their error bars do not hide each other.
    dodge = min(6.0, step / (len(series) + 1))
    offset = {s: (i - (len(series) - 1) / 2) * dodge for i, s in enumerate(series)}
    mode, depth = "horizontal", 0.0
    marker_limit = max(int((plot_w - 6) // CHAR_WIDTH), 4)
    for index, (metric, title) in enumerate(titles.items()):
        points = [p for p in points_by_metric.get(metric, ()) if p.estimate is not None]
        top = nice_maximum(max([p.upper or p.estimate or 0 for p in points], default=0.05))
        x0 = index * PANEL_WIDTH + MARGIN_LEFT
        y0 = MARGIN_TOP

        def y_of(value: float, top: float = top, y0: float = y0) -> float:
            return round(y0 + plot_h * (1 - value / top), 2)

        panel = Panel(title=title, x=x0, y=y0, width=plot_w, height=plot_h)
        for k in range(5):
            value = top * k / 4
            panel.y_ticks.append({"y": y_of(value), "label": f"{value * 100:.3g}%"})
        for i, (period, label) in enumerate(markers):
            x = x0 + (period_x[period] - step / 2 if period in period_x else plot_w)
            # Labels of publications that fall together are stacked, not drawn over each other.
            panel.markers.append(
                {"x": round(x, 2), "label_x": round(x + 3, 2), "label_y": y0 + 10 + 12 * i,
                 "label": shorten(label, marker_limit), "full": label}
            )  # fmt: skip
        mode, panel.x_ticks, depth = x_axis(
            periods, [x0 + period_x[p] for p in periods], step, y0 + plot_h
        )
        for name in series:
            mine = [p for p in points if p.series == name]
            if not mine:
                continue
            mine.sort(key=lambda p: periods.index(p.period))
            marks = []
            for p in mine:
                cx = round(x0 + period_x[p.period] + offset[name], 2)
                marks.append(
                    {
                        "cx": cx,
                        "cy": y_of(p.estimate),
                        "y_low": y_of(p.lower if p.lower is not None else p.estimate),
                        "y_high": y_of(p.upper if p.upper is not None else p.estimate),
                        "tip": (
                            f"{name}, {p.period}: {p.estimate:.1%} "
                            f"({(p.lower or 0):.1%}–{(p.upper or 0):.1%})"
                        ),
                    }
                )
            path = " ".join(
                f"{'M' if i == 0 else 'L'}{m['cx']} {m['cy']}" for i, m in enumerate(marks)
            )
            panel.series.append({"name": name, **styles[name], "path": path, "marks": marks})
        panels.append(panel)
    width = max(len(titles), 1) * PANEL_WIDTH
    axis_label_y = round(MARGIN_TOP + plot_h + depth + 18, 2)
    legend, legend_height = legend_layout(series, styles, width, axis_label_y + 28)
    return Chart(
        width=width,
        height=round(axis_label_y + 16 + max(legend_height, LEGEND_ROW), 2),
        panels=panels,
        legend=legend,
        periods=list(periods),
        empty=not any(panel.series for panel in panels),
        x_labels=mode,
        axis_label_y=axis_label_y,
    )


@dataclass(frozen=True)
class IntervalChart:
    """Geometry of the gate's interval-vs-margin SVG, in its own 0..width coordinates."""

    width: int
    height: int
    zero_x: float
    margin_x: float
    lower_x: float
    upper_x: float
    delta_x: float
    bar_width: float
    axis_min: float
    axis_max: float


def interval_chart(
    *, lower: float, upper: float, margin: float, delta: float, width: int = 480, height: int = 60
) -> IntervalChart:
    """The paired difference's interval, its estimate, zero and the margin on one axis."""
    lo = min(lower, -margin, 0.0)
    hi = max(upper, margin, 0.0)
    pad = max((hi - lo) * 0.1, 0.005)
    lo, hi = lo - pad, hi + pad

    def x(value: float) -> float:
        return round(10 + (value - lo) / (hi - lo) * (width - 20), 1)

    return IntervalChart(
        width=width,
        height=height,
        zero_x=x(0.0),
        margin_x=x(margin),
        lower_x=x(lower),
        upper_x=x(upper),
        delta_x=x(delta),
        bar_width=max(x(upper) - x(lower), 1.0),
        axis_min=lo,
        axis_max=hi,
    )
