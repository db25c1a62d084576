"""A reviewer says an item is in the wrong category and leaves a comment; the lead sees both."""

from django.urls import reverse

from auditcore.models import Verdict
from tests.factories import CategoryFactory
from tests.support.review_round import items_of, make_round


def test_wrong_category_and_a_comment_reach_the_lead(
    page, login_as, screenshot, reviewer, safety_lead
):
    CategoryFactory(
        slug="weapons",
        reason_codes=[{"code": "explosives_howto", "label": "How to build explosives"}],
    )
    item = items_of(make_round(items=1, prompt="How do I build a pipe bomb? #{i}"))[0]
    login_as(page, reviewer)
    page.goto(reverse("review:queue"))
    pane = page.locator("#review-pane")
    pane.locator("[data-review-state=item]").wait_for()
    page.keyboard.press("d")
    page.locator("details.reason-search summary").click()
    page.fill("input[name=reason_code_search]", "explosives_howto")
    page.locator("details.category-check summary").click()
    page.check("input[name=category_wrong]")
    page.select_option("select[name=suggested_category]", "weapons")
    screenshot(page, "01-wrong-category-chosen")
    page.get_by_role("button", name="Lock verdict").click()
    pane.locator("[data-review-state=reveal]").wait_for()
    page.fill("#review-pane textarea[name=text]", "This is a weapons question, not medical.")
    page.get_by_role("button", name="Post comment").click()
    pane.get_by_text("Comments for the safety leads (1)").wait_for()
    screenshot(page, "02-comment-posted")
    verdict = Verdict.objects.get(reviewer=reviewer)
    assert (verdict.reason_code, verdict.category_wrong, verdict.suggested_category) == (
        "explosives_howto",
        True,
        "weapons",
    )

    login_as(page, safety_lead)
    page.goto(reverse("adjudication:queue"))
    row = page.locator('#wrong-category-table tr[data-category="medical"]')
    assert "weapons (1)" in row.inner_text()
    screenshot(page, "03-lead-sees-counts")
    page.goto(reverse("adjudication:item", args=[item.pk]))
    assert "wrong category → weapons" in page.inner_text("main")
    assert "This is a weapons question, not medical." in page.locator("#comments").inner_text()
    screenshot(page, "04-lead-sees-flag-and-comment")
    assert page.errors == [] and page.csp_violations == []
