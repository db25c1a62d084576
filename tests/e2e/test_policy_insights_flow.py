"""A lead goes from "the top places to rewrite" to a draft of that category, publishes it, and
sees the publication marked with the category on the dashboard's trend chart."""

from django.urls import reverse

from auditcore.models import PolicyVersion
from tests.support.insights_data import planted_round

NEW_LINE = "Managing processes, jobs and threads of one's own programs (kill, stop, restart)"


def test_a_lead_rewrites_the_costliest_category_and_sees_it_on_the_trend_chart(
    page, login_as, screenshot, safety_lead, settings
):
    # A team with one safety lead publishes alone (the two-lead review has its own browser test).
    settings.POLICY_SINGLE_LEAD_PUBLISH = True
    audit_round = planted_round()
    v1 = PolicyVersion.objects.get()
    login_as(page, safety_lead)

    page.goto(reverse("insights:index") + f"?round={audit_round.pk}")
    places = page.locator("#top-places article.rewrite-place")
    assert places.first.get_attribute("data-category") == "coding"
    assert "kill" in page.locator("#place-coding .place-triggers").inner_text()
    assert "Do not help with hacking" in page.locator("#place-coding .decline-when").inner_text()
    first_term = page.locator("#triggers-coding tr.trigger-term").first
    assert first_term.get_attribute("data-term") == "kill"
    screenshot(page, "01-top-places")

    page.click("#place-coding button.open-draft")
    page.wait_for_url("**/edit#category-*")
    draft = PolicyVersion.objects.exclude(pk=v1.pk).get()
    coding = draft.categories.get(slug="coding")
    assert page.url.endswith(f"/policy/v/{draft.pk}/edit#category-{coding.pk}")
    card = page.locator(f"#category-{coding.pk}")
    card.locator("textarea[name$='help_when']").fill(NEW_LINE)
    card.locator("button[type=submit].primary").click()
    page.locator(f"#category-{coding.pk} .msg").wait_for()
    screenshot(page, "02-draft-coding-saved")

    page.click(".actions a[href$='/publish']")
    page.wait_for_url("**/publish")
    page.click("form[action$='/publish'] button[type=submit]")
    page.wait_for_url(f"**{reverse('policy:version', args=[draft.pk])}")
    draft.refresh_from_db()
    assert draft.status == PolicyVersion.Status.PUBLISHED
    assert page.locator(f"a[href='{reverse('insights:rewrites', args=[draft.pk])}']").count() == 1
    screenshot(page, "03-published")

    page.goto(reverse("dashboard:index"))
    marks = page.locator("#trend-chart .publication-mark text")
    labels = [marks.nth(i).text_content() for i in range(marks.count())]
    assert f"v{draft.number}: coding" in labels
    screenshot(page, "04-trend-chart-marked")

    page.goto(reverse("insights:rewrites", args=[draft.pk]))
    assert "No round under" in page.locator("#rewrite-coding").inner_text()
    screenshot(page, "05-before-after")
    assert page.errors == []
    assert page.csp_violations == []
