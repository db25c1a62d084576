"""A reviewer picks one of the rounds assigned to them and sees its progress move."""

from django.urls import reverse

from auditcore.models import Verdict
from tests.support.review_round import items_of, make_round


def test_picking_a_round_and_seeing_its_progress(
    page, login_as, screenshot, reviewer, second_reviewer
):
    first = make_round(items=3)
    second = make_round(items=2)
    elsewhere = make_round(items=2)
    elsewhere.reviewers.set([second_reviewer])
    login_as(page, reviewer)
    page.goto(reverse("review:queue"))
    picker = page.locator("nav.round-picker")
    picker.wait_for()
    assert picker.locator(f'[data-round="{elsewhere.pk}"]').count() == 0
    assert "0 of 2 reviewed" in picker.locator(f'[data-round="{second.pk}"]').inner_text()
    screenshot(page, "01-assigned-rounds")

    picker.locator(f'[data-round="{second.pk}"]').click()
    pane = page.locator("#review-pane")
    pane.locator("[data-review-state=item]").wait_for()
    assert picker.locator(f'[data-round="{second.pk}"]').get_attribute("aria-current") == "true"
    assert int(page.locator("#verdict-form").get_attribute("data-item-id")) in {
        i.pk for i in items_of(second)
    }
    page.keyboard.press("h")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    pane.locator("[data-review-state=reveal]").wait_for()
    page.keyboard.press("n")
    pane.locator("[data-review-state=item]").wait_for()
    # Still in the picked round.
    assert int(page.locator("#verdict-form").get_attribute("data-item-id")) in {
        i.pk for i in items_of(second)
    }
    page.reload()
    item = picker.locator(f'[data-round="{second.pk}"]')
    assert "1 of 2 reviewed" in item.inner_text() and "1 by you" in item.inner_text()
    screenshot(page, "02-progress-after-one")

    picker.get_by_text("All assigned rounds").click()
    page.wait_for_url("**/review/?round=all")
    assert picker.get_by_text("All assigned rounds").get_attribute("aria-current") == "true"
    assert "0 of 3 reviewed" in picker.locator(f'[data-round="{first.pk}"]').inner_text()
    assert Verdict.objects.filter(reviewer=reviewer, item__round=second).count() == 1
    assert page.errors == [] and page.csp_violations == []
