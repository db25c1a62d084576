"""A reviewer works five items with the keyboard only, skips one, and reaches the empty queue."""

from django.urls import reverse

from auditcore.models import RoundItem, Verdict
from auditcore.services import review as svc
from tests.support.review_round import items_of, make_round, offered_verdict


def test_a_reviewer_works_five_items_by_keyboard_skips_one_and_sees_the_empty_queue(
    page, login_as, screenshot, reviewer, second_reviewer
):
    audit_round = make_round(items=6, required_reviews=1)
    login_as(page, reviewer)
    page.goto(reverse("review:queue"))
    screenshot(page, "01-review-item")
    pane = page.locator("#review-pane")

    # The keys overlay opens and closes from the keyboard.
    page.keyboard.press("?")
    assert page.locator("#review-keys").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#review-keys").is_hidden()

    # Skip the first item offered; another reviewer picks it up and judges it meanwhile.
    first_prompt = pane.locator(".review-main > .text-block").inner_text()
    skipped_id = int(page.locator("#verdict-form").get_attribute("action").split("/")[-2])
    page.keyboard.press("s")
    page.wait_for_function(
        "p => document.querySelector('#review-pane .review-main > .text-block')?.innerText !== p",
        arg=first_prompt,
    )
    assert "Skipped" in pane.inner_text()
    lease = svc.lease_take_next(reviewer=second_reviewer)
    assert lease.item_id == skipped_id
    offered_verdict(
        reviewer=second_reviewer, item_id=skipped_id, decision="help", reason_code="general_info"
    )

    for n in range(5):
        pane.locator("[data-review-state=item]").wait_for()
        page.keyboard.press(("h", "d", "u", "h", "d")[n])
        page.keyboard.press("2")
        if n == 0:
            screenshot(page, "02-verdict-chosen")
        page.keyboard.press("Enter")
        pane.locator("[data-review-state=reveal]").wait_for()
        assert "Your verdict is locked" in pane.inner_text()
        if n == 0:
            screenshot(page, "03-reveal")
        page.keyboard.press(("c", "r", "p", "r", "c")[n])
        # The gateway replaced every answer here: one more key says what the user was served.
        pane.locator("[data-reveal-step=served]").wait_for()
        assert "What was the user served?" in pane.inner_text()
        if n == 0:
            screenshot(page, "03b-served-question")
        page.keyboard.press("r")
        # Recording what happened moves on to the next item (or the skipped one, or empty).
        page.wait_for_function(
            "() => !document.querySelector('#review-pane [data-review-state=reveal]')"
        )

    # The skipped item was judged by anna: nothing is left for alice.
    pane.locator("[data-review-state=empty]").wait_for()
    assert "Your queue is empty" in pane.inner_text()
    screenshot(page, "04-empty-queue")

    verdicts = Verdict.objects.filter(reviewer=reviewer)
    assert verdicts.count() == 5
    assert sorted(verdicts.values_list("decision", flat=True)) == sorted(
        ["help", "decline", "unsure", "help", "decline"]
    )
    assert set(verdicts.values_list("reason_code", flat=True)) == {"personal_dosing"}
    assert sorted(verdicts.values_list("observed_label", flat=True)) == sorted(
        ["compliance", "refusal", "partial_refusal", "refusal", "compliance"]
    )
    assert set(verdicts.values_list("observed_served_label", flat=True)) == {"refusal"}
    assert not Verdict.objects.filter(reviewer=reviewer, item_id=skipped_id).exists()
    assert not [i for i in items_of(audit_round) if i.status == RoundItem.Status.PENDING]
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
