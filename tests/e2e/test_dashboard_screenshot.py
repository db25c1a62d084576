"""The dashboard in headless Chromium: the trend chart renders with both axes, tables sort."""

import pytest
from django.urls import reverse

from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_releases(transactional_db):
    first = build_round(golden_strata(), name="Round 1")
    strata = golden_strata()
    for s in strata:
        s["model"] = "m2"
    for item in strata[1]["items"]:
        item["final"] = item["final"] and "decline"  # m2 misses more harm
    return first, build_round(strata, name="Round 2")


def test_the_dashboard_shows_the_trend_chart_with_both_axes(
    page, login_as, screenshot, safety_lead, two_releases
):
    _, latest = two_releases
    login_as(page, safety_lead)
    page.goto(reverse("dashboard:round", args=[latest.pk]))
    chart = page.locator("svg#trend-chart")
    chart.wait_for(state="visible")
    titles = chart.locator("text.panel-title").all_text_contents()
    assert "False-refusal rate (served)" in titles
    assert "True-refusal rate (served)" in titles
    assert chart.locator("g.series circle.dot").count() >= 4
    assert chart.locator("line.errorbar").count() >= 4
    assert set(chart.locator("g.legend text").all_text_contents()) == {"m1", "m2"}
    box = chart.bounding_box()
    assert box["width"] > 600 and box["height"] > 150
    # Both axes side by side in the headline cards, the served layer first in each.
    frr, trr = page.locator("#card-frr"), page.locator("#card-trr")
    assert frr.is_visible() and trr.is_visible()
    frr_box, trr_box = frr.bounding_box(), trr.bounding_box()
    assert abs(frr_box["y"] - trr_box["y"]) < 5 and frr_box["x"] < trr_box["x"]
    served = frr.locator('[data-metric="served.frr"]').bounding_box()
    model = frr.locator('[data-metric="model.frr"]').bounding_box()
    assert served["x"] < model["x"]
    # Few reviewed items: "too few reviewed", the interval greyed, n/events/deff explained.
    assert "too few reviewed (n = 2)" in frr.inner_text()  # Round 2 helps on A1, A2 only
    assert frr.locator(".rate-greyed").first.is_visible()
    assert "events" in frr.locator(".rate-meta").first.get_attribute("title")
    assert "are final" in page.locator("#round-progress").inner_text()
    path = screenshot(page, "dashboard")
    assert path.is_file() and path.stat().st_size > 10_000
    chart.screenshot(path=str(path.with_name("trend-chart.png")))
    # Sorting a breakdown table in the browser.
    header = page.locator("#breakdown-category thead th").first.locator("button")
    header.click()
    header.click()
    first_cells = page.locator("#breakdown-category tbody tr td:first-child").all_inner_texts()
    assert first_cells == sorted(first_cells, reverse=True)
    # The lazily loaded consistency section arrives.
    page.locator("#consistency-groups table").wait_for(state="attached")
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
