"""A safety lead meets the confirmation pages: closing a round and re-reviewing a category show
their counts per round first, and only the confirmed action happens."""

from django.urls import reverse

from auditcore.models import AuditRound, RoundItem, Verdict
from tests.support.review_round import rounds_under_three_versions


def test_close_round_and_rereview_confirm_with_their_counts(
    page, login_as, screenshot, safety_lead, reviewer
):
    r = rounds_under_three_versions(reviewer, first_items=11)
    first, other, judged, v1, v2, v3 = (r[k] for k in ("a", "c", "judged", "v1", "v2", "v3"))

    login_as(page, safety_lead)
    page.goto(reverse("rounds:detail", args=[first.pk]))
    page.click("text=Close round…")
    page.locator("#close-impact").wait_for()
    assert "10 of 11 items have not been reviewed yet" in page.inner_text("main")
    screenshot(page, "01-close-confirmation")
    page.click("text=Cancel")
    page.wait_for_url(f"**{reverse('rounds:detail', args=[first.pk])}")
    assert AuditRound.objects.get(pk=first.pk).status == AuditRound.Status.OPEN

    page.goto(reverse("policy:rereview", args=[v3.pk]) + "?category=medical")
    groups = page.locator(".rereview-group")
    assert groups.count() == 2
    v1_group = page.locator(f'.rereview-group[data-from-version="{v1.pk}"]')
    row = v1_group.locator(f'tr[data-round="{first.pk}"] td.num')
    assert row.all_inner_texts() == ["11", "1", "0", "10", "1", "0"]
    screenshot(page, "02-rereview-confirmation")
    v1_group.get_by_role("button").click()
    # Rounds A (11 items) and B (2) are under v1; C, under v2, is left alone.
    page.get_by_text("13 items of medical in open rounds drawn under").wait_for()
    screenshot(page, "03-rereview-done")
    assert Verdict.objects.get(item=judged).superseded is True
    assert set(
        RoundItem.objects.filter(round=other).values_list("policy_version_id", flat=True)
    ) == {v2.pk}

    page.goto(reverse("rounds:close", args=[first.pk]))
    page.get_by_role("button", name="Close the round").click()
    page.get_by_text("is closed; it can no longer change").wait_for()
    assert AuditRound.objects.get(pk=first.pk).status == AuditRound.Status.CLOSED
    assert page.errors == [] and page.csp_violations == []
