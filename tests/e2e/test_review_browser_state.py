"""Review state that survives the browser: refresh keeps the choice, Back/Forward after a lock show
what holds now, and a stale blind form for a judged item is answered with a message."""

from datetime import timedelta

from django.urls import reverse
from playwright.sync_api import expect

from auditcore.models import Verdict
from tests.support.review_round import make_round


def _item_id(page) -> int:
    return int(page.locator("#verdict-form").get_attribute("action").split("/")[-2])


def test_refresh_keeps_the_choice_and_back_forward_after_a_lock_show_the_current_state(
    page, login_as, screenshot, reviewer
):
    make_round(items=3, required_reviews=1)
    login_as(page, reviewer)
    page.locator(".card").get_by_text("Nothing waiting").or_(
        page.locator(".card").get_by_text("waiting for you")
    ).wait_for()
    assert "0 done today" in page.locator(".card").first.inner_text()
    page.click("text=Open my review queue")
    pane = page.locator("#review-pane")
    pane.locator("[data-review-state=item]").wait_for()
    # The keys work once the page's script has run (it is deferred): wait for the whole page.
    page.wait_for_load_state("load")
    first = _item_id(page)
    decision = page.locator("input[name=decision][value=help]")
    reason = page.locator('input[name=reason_code][data-key="2"]')
    note = page.locator("textarea[name=note]")

    # H, reason 2 and a note, then a refresh: the choice is still there.
    page.keyboard.press("h")
    page.keyboard.press("2")
    expect(decision).to_be_checked()
    expect(reason).to_be_checked()
    page.get_by_text("Policy clause and note (optional)").click()
    page.fill("textarea[name=note]", "kept across a refresh")
    page.reload()
    pane.locator("[data-review-state=item]").wait_for()
    assert _item_id(page) == first
    expect(decision).to_be_checked()
    expect(reason).to_be_checked()
    expect(note).to_have_value("kept across a refresh")
    screenshot(page, "01-choice-after-refresh")

    page.keyboard.press("Enter")
    pane.locator("[data-review-state=reveal]").wait_for()
    page.wait_for_url(f"**{reverse('review:reveal', args=[first])}")
    verdict = Verdict.objects.get(reviewer=reviewer, item_id=first)
    assert verdict.decision == "help" and verdict.note == "kept across a refresh"

    # Back: the queue page is asked again, and offers the next item, not the judged one's form.
    page.go_back()
    pane.locator("[data-review-state=item]").wait_for()
    assert _item_id(page) != first
    screenshot(page, "02-back-after-lock")
    # Forward: the locked reveal again, never the blind form of the judged item.
    page.go_forward()
    pane.locator("[data-review-state=reveal]").wait_for()
    assert "Your verdict is locked: Should help" in pane.inner_text()
    assert page.locator("#verdict-form").count() == 0
    screenshot(page, "03-forward-after-lock")

    # Back twice to the home page: its count is today's, not the one of when it was left.
    page.go_back()
    pane.locator("[data-review-state=item]").wait_for()
    page.go_back()
    page.wait_for_url(f"**{reverse('home')}")
    page.locator(".card").get_by_text("1 done today").wait_for()
    screenshot(page, "04-home-after-back")
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []


def test_a_stale_blind_form_for_a_judged_item_is_answered_with_a_message(
    page, login_as, screenshot, reviewer
):
    make_round(items=2, required_reviews=2)
    login_as(page, reviewer)
    page.goto(reverse("review:queue"))
    page.locator("[data-review-state=item]").wait_for()
    item = _item_id(page)
    # The same item open in a second tab of the same session, locked there first.
    other = page.context.new_page()
    other.goto(reverse("review:queue"))
    other.locator("[data-review-state=item]").wait_for()
    assert _item_id(other) == item
    other.keyboard.press("h")
    other.keyboard.press("1")
    other.keyboard.press("Enter")
    other.locator("[data-review-state=reveal]").wait_for()

    page.keyboard.press("d")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    pane = page.locator("#review-pane")
    pane.locator("[data-review-state=reveal]").wait_for()
    assert "already locked (Should help); this second one was not saved" in pane.inner_text()
    screenshot(page, "01-second-lock-refused")
    assert list(Verdict.objects.filter(reviewer=reviewer).values_list("decision", flat=True)) == [
        "help"
    ]
    assert page.errors == [] and page.csp_violations == []


def test_undo_within_the_window_and_refused_after_it(page, login_as, screenshot, reviewer):
    make_round(items=3, required_reviews=1)
    login_as(page, reviewer)
    page.goto(reverse("review:queue"))
    pane = page.locator("#review-pane")
    pane.locator("[data-review-state=item]").wait_for()
    first = _item_id(page)
    page.keyboard.press("d")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    pane.locator("[data-review-state=reveal]").wait_for()
    screenshot(page, "01-reveal-with-undo")

    # Within the window: the item comes back blind, and is judged again.
    page.click("text=Take back my verdict")
    pane.locator("[data-review-state=item]").wait_for()
    assert _item_id(page) == first
    assert "Your verdict was taken back" in pane.inner_text()
    assert not Verdict.objects.filter(reviewer=reviewer).exists()
    screenshot(page, "02-item-back-blind")
    page.keyboard.press("h")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    pane.locator("[data-review-state=reveal]").wait_for()
    # N: on without recording what the model did; "my recent items" says it is missing.
    page.keyboard.press("n")
    pane.locator("[data-review-state=item]").wait_for()
    page.click("text=My recent items")
    page.locator("table.recent-items").wait_for()
    assert "Not recorded — record it" in page.locator("table.recent-items").inner_text()
    screenshot(page, "03-recent-items")

    # After the window: the button on the list is refused with the reason.
    verdict = Verdict.objects.get(reviewer=reviewer)
    Verdict.objects.filter(pk=verdict.pk).update(locked_at=verdict.locked_at - timedelta(minutes=3))
    page.click("text=Take back my verdict")
    page.get_by_text("only within 2 minutes of its lock; your verdict stands").wait_for()
    screenshot(page, "04-undo-refused")
    assert Verdict.objects.get(reviewer=reviewer).decision == "help"
    # The missing observation is recorded from the list.
    page.click("text=Not recorded — record it")
    page.locator("[data-review-state=reveal]").wait_for()
    page.keyboard.press("r")
    page.locator("[data-reveal-step=served]").wait_for()
    page.keyboard.press("r")
    page.locator("#review-pane [data-review-state=item]").wait_for()
    assert Verdict.objects.get(reviewer=reviewer).observed_label == "refusal"
    assert page.errors == [] and page.csp_violations == []
