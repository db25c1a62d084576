"""Chart geometry: panels per metric, series per model in distinct colour-blind-safe colours,
error bars inside the axes, labels that never overlap; the gate's interval chart."""

import pytest

from reviewapp.charts import (
    PALETTE,
    ChartPoint,
    interval_chart,
    nice_maximum,
    shorten,
    trend_chart,
)


def test_nice_maximum_rounds_up():
    assert nice_maximum(0.03) == 0.05
    assert nice_maximum(0.33) == 0.4
    assert nice_maximum(0.99) == 1.0


def test_chart_has_a_panel_per_metric_and_a_series_per_model():
    points = {
        "frr": [
            ChartPoint("R1", "m1", 0.1, 0.05, 0.2),
            ChartPoint("R2", "m1", 0.2, 0.1, 0.3),
            ChartPoint("R2", "m2", None, None, None),
        ],
        "trr": [ChartPoint("R1", "m2", 0.5, 0.4, 0.6)],
    }
    chart = trend_chart(points, {"frr": "False", "trr": "True"}, ["R1", "R2"], ["m1", "m2"])
    assert [p.title for p in chart.panels] == ["False", "True"]
    frr = chart.panels[0]
    assert [s["name"] for s in frr.series] == ["m1"]  # m2 has no data there
    marks = frr.series[0]["marks"]
    assert frr.series[0]["path"].startswith("M") and " L" in frr.series[0]["path"]
    # y grows downwards: the interval's upper bound is above (smaller y than) the estimate.
    for m in marks:
        assert frr.y <= m["y_high"] <= m["cy"] <= m["y_low"] <= frr.y + frr.height
    assert frr.y_ticks[-1]["label"] == "40%"  # nice maximum above 0.3
    assert [t["lines"] for t in frr.x_ticks] == [["R1"], ["R2"]]
    assert chart.x_labels == "horizontal"
    assert [entry["label"] for entry in chart.legend] == ["m1", "m2"]
    assert not chart.empty


def test_an_empty_chart_says_so():
    chart = trend_chart({}, {"frr": "False"}, [], [])
    assert chart.empty


def test_the_gate_interval_chart_puts_zero_the_estimate_and_the_margin_in_order():
    chart = interval_chart(lower=-0.01, upper=0.04, margin=0.02, delta=0.015)
    assert 10 <= chart.lower_x < chart.zero_x < chart.delta_x < chart.margin_x < chart.upper_x
    assert chart.upper_x <= chart.width - 10
    assert chart.bar_width == round(chart.upper_x - chart.lower_x, 1)


def _disjoint(a: tuple, b: tuple) -> bool:
    """Two (x0, y0, x1, y1) boxes share no point."""
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def _chart_of(periods: list[str], models: list[str]):
    points = {"frr": [ChartPoint(p, m, 0.1, 0.05, 0.2) for p in periods for m in models]}
    return trend_chart(points, {"frr": "False", "trr": "True"}, periods, models)


@pytest.mark.parametrize(
    ("periods", "mode"),
    [
        (["R1", "R2", "R3"], "horizontal"),
        (["Round 2026-11 chat", "Round 2026-12 chat", "Round 2027-01 chat"], "wrapped"),
        ([f"acme-chat-2026-{i:02d}-preview-long-name-round" for i in range(12)], "rotated"),
        ([f"2026-W{i:02d}" for i in range(1, 53)], "rotated"),
    ],
)  # fmt: skip
def test_long_period_names_get_x_labels_that_do_not_overlap(periods, mode):
    chart = _chart_of(periods, ["m1"])
    assert chart.x_labels == mode
    for panel in chart.panels:
        boxes = [t["box"] for t in panel.x_ticks]
        assert len(boxes) >= min(len(periods), 10)
        assert all(_disjoint(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
        # Inside the picture and under the axis, above the axis caption.
        for x0, y0, x1, y1 in boxes:
            assert x0 >= 0
            assert x1 <= chart.width
            assert panel.y + panel.height < y0 and y1 < chart.axis_label_y - 10
        assert {t["full"] for t in panel.x_ticks} <= set(periods)


def test_long_model_names_get_legend_entries_that_do_not_overlap():
    models = [f"acme-chat-2026-{i:02d}-experimental-preview-{'x' * i}" for i in range(11)]
    chart = _chart_of(["R1", "R2"], models)
    boxes = [entry["box"] for entry in chart.legend]
    assert all(_disjoint(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert all(x0 >= 0 and x1 <= chart.width and y1 <= chart.height for x0, _, x1, y1 in boxes)
    assert len({y0 for _, y0, _, _ in boxes}) > 1  # flowed onto several rows
    assert [entry["full"] for entry in chart.legend] == models


def test_each_model_gets_its_own_okabe_ito_colour_and_a_dash_after_eight():
    models = [f"m{i}" for i in range(10)]
    chart = _chart_of(["R1"], models)
    series = chart.panels[0].series
    assert [s["colour"] for s in series[:8]] == list(PALETTE)
    assert len(set(PALETTE)) == 8
    assert {s["colour"].upper() for s in series[:8]} == {
        "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"
    }  # fmt: skip
    assert [s["dash"] for s in series[:8]] == [""] * 8
    assert series[8]["dash"] and series[8]["colour"] == series[0]["colour"]
    assert [(e["colour"], e["dash"]) for e in chart.legend] == [
        (s["colour"], s["dash"]) for s in series
    ]


def test_long_names_are_shortened_so_that_they_stay_apart():
    assert shorten("R1", 28) == "R1"
    assert shorten("acme-chat-2026-10-experimental-preview", 28).startswith("acme-chat")
    rounds = [f"Support-chat weekly audit round {i} (long name, 2026)" for i in (1, 2, 3)]
    models = [f"acme-chat-2026-{i}-experimental-preview-{'with-a-long-tail' * 3}" for i in (1, 2)]
    chart = _chart_of(rounds, models)
    ticks = [t["lines"][0] for t in chart.panels[0].x_ticks]
    assert len(set(ticks)) == 3 and all(len(t) <= 28 and "…" in t for t in ticks)
    assert [t["full"] for t in chart.panels[0].x_ticks] == rounds  # the tooltip: in full
    legend = [entry["label"] for entry in chart.legend]
    assert len(set(legend)) == 2 and all(len(label) <= 48 for label in legend)


def test_series_sit_side_by_side_within_a_period_so_error_bars_stay_apart():
    chart = _chart_of(["R1", "R2"], ["m1", "m2", "m3"])
    xs = [s["marks"][0]["cx"] for s in chart.panels[0].series]
    assert xs == sorted(xs) and len(set(xs)) == 3
    tick = chart.panels[0].x_ticks[0]["x"]
    assert xs[0] < tick < xs[2] and xs[1] == tick  # centred on the period
