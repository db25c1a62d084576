"""Geometry of the server-rendered SVG charts (dashboard trends, the gate interval), from data.

One panel per rate (false refusals next to true refusals and missed harm), the same periods on
every x axis, one coloured series per model version, each point with its 95% interval as an
error bar. The function returns numbers and strings only; the template escapes every label and
styles through CSS classes and SVG presentation attributes (no style attributes: the CSP).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

PANEL_WIDTH = 300
PANEL_HEIGHT = 200
MARGIN_LEFT = 48
MARGIN_RIGHT = 16
MARGIN_TOP = 34
MARGIN_BOTTOM = 56
LEGEND_ROW = 20
NICE_MAXIMA = (0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0)
SERIES_CLASSES = 8


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


def nice_maximum(value: float) -> float:
    for candidate in NICE_MAXIMA:
        if value <= candidate:
            return candidate
    return 1.0


def _label(period: str, limit: int = 14) -> str:
    return period if len(period) <= limit else period[: limit - 1] + "…"


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
    plot_h = PANEL_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / n
    period_x = {p: i * step + step / 2 for i, p in enumerate(periods)}
    series_class = {s: f"series-{i % SERIES_CLASSES}" for i, s in enumerate(series)}
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
            panel.y_ticks.append({"y": y_of(value), "label": f"{value:.0%}"})
        for i, (period, label) in enumerate(markers):
            x = x0 + (period_x[period] - step / 2 if period in period_x else plot_w)
            # Labels of publications that fall together are stacked, not drawn over each other.
            panel.markers.append(
                {"x": round(x, 2), "label_x": round(x + 3, 2), "label_y": y0 + 10 + 12 * i,
                 "label": label}
            )  # fmt: skip
        panel.x_ticks = [
            {"x": round(x0 + period_x[p], 2), "label": _label(p), "full": p} for p in periods
        ]
        for name in series:
            mine = [p for p in points if p.series == name]
            if not mine:
                continue
            mine.sort(key=lambda p: periods.index(p.period))
            marks = []
            for p in mine:
                cx = round(x0 + period_x[p.period], 2)
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
            panel.series.append(
                {"name": name, "css": series_class[name], "path": path, "marks": marks}
            )
        panels.append(panel)
    width = max(len(titles), 1) * PANEL_WIDTH
    legend_y = PANEL_HEIGHT + 8
    legend = [
        {"label": s, "css": series_class[s], "x": 12 + 160 * (i % 4), "y": legend_y + 20 * (i // 4)}
        for i, s in enumerate(series)
    ]
    rows = (len(series) + 3) // 4
    return Chart(
        width=width,
        height=PANEL_HEIGHT + 16 + LEGEND_ROW * max(rows, 1),
        panels=panels,
        legend=legend,
        periods=list(periods),
        empty=not any(panel.series for panel in panels),
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
