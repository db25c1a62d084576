"""The trend chart's geometry: panels per metric, series per model, error bars inside the axes."""

from reviewapp.charts import ChartPoint, interval_chart, nice_maximum, trend_chart


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
    assert [t["label"] for t in frr.x_ticks] == ["R1", "R2"]
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
