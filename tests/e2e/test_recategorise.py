"""A safety lead publishes a version adding "fraud", re-categorises the period's stored traffic
from the published version's page, watches the job to its end, and finds a phishing prompt in
"fraud" in the browser, while an item already drawn into a round keeps its category."""

from django.urls import reverse

from auditcore.models import Interaction, PolicyVersion, RecategoriseJob
from auditcore.services.policy import policy_version_draft_from
from auditcore.services.recategorise import recategorise_job_run
from tests.support.policy_review import proposing_lead
from tests.support.recategorise_data import PHISHING_PROMPT, published_v1
from tests.support.review_round import items_of, make_round
from tests.support.traffic import DAY, stored_interaction


def test_recategorise_on_publish(page, login_as, screenshot, safety_lead, monkeypatch):
    drawn = items_of(make_round(items=1, prompt=PHISHING_PROMPT))[0]
    Interaction.objects.filter(pk=drawn.interaction_id).update(category="security", day=DAY)
    v1 = published_v1(safety_lead)
    phishing = stored_interaction("Is this SMS from my bank a phishing scam?", category="security")
    for i in range(3):
        stored_interaction(f"How do I remove malware from laptop {i}?", category="security")
    draft = policy_version_draft_from(actor=proposing_lead(), source=v1)
    # The job stays queued until this test runs it, so the page is seen polling a running job.
    queued = []
    monkeypatch.setattr("reviewapp.views.policy.recategorise_job_enqueue", queued.append)

    # --- One lead adds "fraud" and proposes the draft; another approves and publishes it.
    login_as(page, proposing_lead(), password="proposing-lead-2026")
    page.goto(reverse("policy:edit", args=[draft.pk]))
    page.fill("#id_new-slug", "fraud")
    page.fill("#id_new-name", "Fraud")
    page.fill("#id_new-keywords", "phishing\nscam\nfraud")
    page.click(f"form[action$='{reverse('policy:category_add', args=[draft.pk])}'] button")
    page.locator("#category-fraud, [id^=category-]").first.wait_for()
    page.goto(reverse("policy:publish", args=[draft.pk]))
    page.click("form[action$='/propose'] button[type=submit]")
    login_as(page, safety_lead)
    page.goto(reverse("policy:publish", args=[draft.pk]))
    page.click("form[action$='/publish'] button[type=submit]")
    page.wait_for_url(f"**{reverse('policy:version', args=[draft.pk])}")
    draft.refresh_from_db()
    assert draft.status == PolicyVersion.Status.PUBLISHED

    # --- The published version offers to re-categorise the period.
    offer = page.locator("#recategorise")
    assert "Re-categorise the stored traffic of the period under v2" in offer.inner_text()
    preview = page.locator("#recategorise-preview").inner_text()
    assert "4 interactions to classify" in preview
    assert "1 item already drawn into rounds keeps its stratum" in preview
    assert page.input_value("#id_period_end") == DAY.isoformat()
    screenshot(page, "01-published-offers-recategorise")
    offer.get_by_role("button", name="Re-categorise the period under v2").click()
    page.wait_for_url("**/policy/recategorise/*/")
    job = RecategoriseJob.objects.get()
    assert queued == [job.pk]
    progress = page.locator("#recategorise-progress")
    assert "0 of 4 interactions classified" in progress.inner_text()
    assert progress.get_attribute("hx-trigger") == "every 1s"
    screenshot(page, "02-job-queued-polling")

    # --- A worker runs it; the page's polling shows the end without a reload.
    page.evaluate("() => { window.__samePage = true; }")
    recategorise_job_run(job_id=job.pk)
    page.locator("#recategorise-progress[data-status=succeeded]").wait_for()
    assert page.evaluate("() => window.__samePage") is True
    assert "Done: 1 interaction changed category" in progress.inner_text()
    move = page.locator('#recategorise-moves tr[data-move="security→fraud"]')
    assert move.locator("td.num").inner_text() == "1"
    assert "1 item already drawn into rounds keeps its stratum" in progress.inner_text()
    screenshot(page, "03-job-done")

    # --- In the browser: the phishing prompt is now "fraud"; the drawn one kept "security".
    move.get_by_role("link").click()
    page.wait_for_url("**/browse/?category=fraud**")
    rows = page.locator("#browse-results tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-interaction-id") == str(phishing.pk)
    assert rows.first.locator("td.category").inner_text() == "fraud"
    screenshot(page, "04-browse-fraud")
    page.fill("input[name=q]", "phishing")
    page.select_option("select[name=status]", "")
    page.fill("input[name=category]", "")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=phishing**")
    by_id = {
        r.get_attribute("data-interaction-id"): r.locator("td.category").inner_text()
        for r in rows.all()
    }
    assert by_id == {str(phishing.pk): "fraud", str(drawn.interaction_id): "security"}
    screenshot(page, "05-browse-phishing-drawn-unchanged")
    page.locator(f'tr[data-interaction-id="{drawn.interaction_id}"] a[data-item-id]').click()
    page.wait_for_url(f"**{reverse('adjudication:item', args=[drawn.pk])}")
    assert "category security" in page.inner_text("main")
    assert page.errors == [] and page.csp_violations == []
