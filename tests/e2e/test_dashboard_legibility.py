"""The dashboard read in headless Chromium: estimates first with small explained badges, chart
labels that do not overlap even with long names, distinct colours, paged consistency groups,
the overall confusion matrix, the round it opens on; the gate's accept form below its evidence."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from auditcore.models import RoundItem, Verdict
from tests.support.dashboard_data import inconsistent_round, one_item_strata
from tests.support.estimate_rounds import DAY, build_round

pytestmark = pytest.mark.e2e

MODELS = [
    "acme-chat-2026-10-experimental-preview-long-name",
    "acme-chat-2026-11-experimental-preview-long-name-b",
    "acme-chat-2026-12-experimental-preview-with-an-even-longer-name",
]


@pytest.fixture
def long_named_rounds(transactional_db, reviewer):
    # Surfaces that disagree, in the period of the newest weekly round.
    inconsistent_round(45, name="Surface consistency round", day=DAY + dt.timedelta(days=35))
    for week in range(6):
        strata = []
        for k, model in enumerate(MODELS):
            for s in one_item_strata(12, refused=2 + k + week % 2, model=model):
                s["key"] = f"{s['key']}-{k}"
                strata.append(s)
        newest = build_round(
            strata,
            name=f"Support-chat weekly audit round {week + 1} (long name, 2026)",
            day=DAY + dt.timedelta(days=7 * week),
        )
    items = RoundItem.objects.filter(round=newest).order_by("id")[:8]
    for item, seen in zip(items, ["refusal", "compliance"] * 4, strict=True):
        Verdict.objects.create(
            item=item, reviewer=reviewer, decision="help", policy_version=item.policy_version,
            locked_at=timezone.now(), observed_label=seen,
        )  # fmt: skip
    # Newer still, but nobody has reviewed it: the dashboard does not open on it.
    build_round(
        [{"key": "P", "category": "medical", "outcome": "refusal", "population": 5,
          "items": [{"weight": 5, "final": ""}]}],
        name="Empty new round",
        day=DAY + dt.timedelta(days=7 * 7),
    )  # fmt: skip
    return newest


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def _no_two_overlap(locator) -> int:
    boxes = [element.bounding_box() for element in locator.all()]
    boxes = [b for b in boxes if b and b["width"] > 0]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    return len(boxes)


def _font_size(locator) -> float:
    return locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")


def test_the_dashboard_reads_clearly_with_long_names_and_many_groups(
    page, login_as, screenshot, safety_lead, long_named_rounds
):
    login_as(page, safety_lead)
    page.goto(reverse("dashboard:index"))
    # It opens on the most recent round with reviews and says so.
    opened = page.locator("#opened-on")
    assert "weekly audit round 6" in opened.inner_text()
    assert "most recent round with reviews" in opened.inner_text()
    assert page.locator(".round-links a", has_text="Empty new round").count() == 1
    screenshot(page, "dashboard")

    # Estimates first and large; the flags small badges after them, explained in a tooltip.
    cell = page.locator('#card-frr [data-metric="served.frr"]')
    value, badge = cell.locator(".rate-value"), cell.locator(".badge").first
    assert badge.is_visible()
    assert badge.bounding_box()["y"] > value.bounding_box()["y"]
    assert _font_size(badge) < _font_size(value) / 1.5
    assert badge.get_attribute("title")
    assert "df" not in badge.evaluate("e => e.firstChild.textContent")
    headline = page.locator("section.two-axis .headline-cards")
    headline.screenshot(path=str(screenshot(page, "dashboard").with_name("headline.png")))

    # The trend: labels of long round names and long model names never overlap.
    chart = page.locator("svg#trend-chart")
    chart.scroll_into_view_if_needed()
    for panel in chart.locator("g.panel").all():
        assert _no_two_overlap(panel.locator("text.x-tick")) == 7
        colours = panel.locator("g.series").evaluate_all(
            "gs => gs.map(g => g.getAttribute('stroke'))"
        )
        assert len(colours) == len(set(colours))
    frr = chart.locator("g.panel").first.locator("g.series")
    assert frr.count() == len(MODELS) + 1
    assert _no_two_overlap(chart.locator("g.legend text")) == len(MODELS) + 1
    legend = chart.locator("g.legend").bounding_box()
    box = chart.bounding_box()
    assert legend["y"] + legend["height"] <= box["y"] + box["height"]
    assert box["width"] > 1000
    chart.screenshot(path=str(screenshot(page, "dashboard").with_name("trend-chart.png")))

    # Consistency groups: twenty at a time, the total shown, the next page swapped in place.
    groups = page.locator("#consistency-groups")
    page.locator("#consistency-count").wait_for(state="visible")
    assert "page 1 of 3" in page.locator("#consistency-count").inner_text()
    assert groups.locator("tbody tr").count() == 20
    url = page.url
    groups.locator("a[rel=next]").click()
    page.wait_for_selector("#consistency-count:has-text('page 2 of 3')")
    assert page.url == url and groups.locator("tbody tr").count() == 20
    groups.screenshot(path=str(screenshot(page, "dashboard").with_name("consistency-page-2.png")))

    # One confusion matrix over all categories, with precision and recall per class.
    matrix = page.locator("#confusion-matrix")
    matrix.scroll_into_view_if_needed()
    assert matrix.is_visible() and page.locator("#confusion-metrics").is_visible()
    assert "8 observations" in matrix.inner_text()
    page.locator("#confusion").screenshot(
        path=str(screenshot(page, "dashboard").with_name("confusion-matrix.png"))
    )
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []


def test_the_gate_page_puts_the_accept_form_below_the_evidence(
    page, login_as, screenshot, safety_lead, failed_gate
):
    login_as(page, safety_lead)
    page.goto(reverse("replay:decision", args=[failed_gate.pk]))
    form = page.locator("#acceptance form")
    for evidence in ("#table-2x2", "svg.gate-chart", "#categories", "#evidence"):
        above = page.locator(evidence).bounding_box()
        assert above["y"] + above["height"] <= form.bounding_box()["y"], evidence
    assert (
        page.locator("#blocked").bounding_box()["y"]
        < page.locator("#table-2x2").bounding_box()["y"]
    )
    screenshot(page, "decision")
    page.locator("#blocked a[href='#acceptance']").click()
    form.locator("textarea, input[name=reason]").first.fill("Launch needs it; fixed next week")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#accepted")
    assert "Launch needs it" in page.locator("#accepted").inner_text()
    assert page.locator("#blocked").count() == 0
    screenshot(page, "decision-accepted")
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
