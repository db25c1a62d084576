"""A safety lead's day in the browser: edit and publish a policy version, create a round, change
quotas and watch the preview update in place, draw it, adjudicate a disagreement, and see the
dashboard's chart with both axes (false refusals and true refusals)."""

from django.urls import reverse

from auditcore.models import AuditRound, PolicyVersion, RoundItem
from auditcore.services import review as svc
from tests.support.policy_review import proposing_lead
from tests.support.review_round import offered_verdict
from tests.support.round_data import DAY, population, published_policy

NEW_LINE = "Explaining what a dose on a label means"


def _review_everything(audit_round, reviewer, second_reviewer):
    """Both reviewers judge every item through the services; the first item gets a disagreement."""
    first = audit_round.items.order_by("queue_order", "pk").first()
    for who in (reviewer, second_reviewer):
        while (lease := svc.lease_take_next(reviewer=who)) is not None:
            item = RoundItem.objects.select_related("interaction").get(pk=lease.item_id)
            if item.pk == first.pk:
                decision = "help" if who == reviewer else "decline"
            else:
                decision = "help" if item.interaction.category == "medical" else "decline"
            offered_verdict(reviewer=who, item_id=item.pk, decision=decision)
    return first


def test_a_safety_lead_publishes_a_policy_runs_a_round_and_reads_the_dashboard(
    page, login_as, screenshot, safety_lead, reviewer, second_reviewer
):
    v1 = published_policy(actor=safety_lead)
    population(
        {
            ("medical", "refusal"): 30,
            ("medical", "compliance"): 30,
            ("finance", "refusal"): 20,
            ("finance", "compliance"): 20,
        }
    )
    login_as(page, safety_lead)

    # --- Policy: a new draft from the published version, one help-when line changed, published.
    page.goto(reverse("policy:version", args=[v1.pk]))
    screenshot(page, "01-policy-v1")
    page.click("form[action$='/draft'] button[type=submit]")
    page.wait_for_url("**/edit")
    draft = PolicyVersion.objects.exclude(pk=v1.pk).get()
    assert draft.status == PolicyVersion.Status.DRAFT and draft.number == 2
    medical = draft.categories.get(slug="medical")
    card = page.locator(f"#category-{medical.pk}")
    card.locator("textarea[name$='help_when']").fill(f"General health information\n{NEW_LINE}")
    card.locator("button[type=submit].primary").click()
    # Saved in place by HTMX: the card is swapped, the page is not reloaded.
    page.locator(f"#category-{medical.pk} .msg").wait_for()
    assert "Saved." in page.locator(f"#category-{medical.pk}").inner_text()
    screenshot(page, "02-policy-draft-saved")
    page.click(".actions a[href$='/publish']")
    page.wait_for_url("**/publish")
    heading = page.locator("h1").inner_text()
    assert heading.startswith("Publish") and "v2" in heading
    screenshot(page, "03-publish-confirmation")
    # The change is reviewed: this lead proposes it, a different lead approves and publishes.
    page.click("form[action$='/propose'] button[type=submit]")
    assert "Proposed by you" in page.locator("#proposal").inner_text()
    login_as(page, proposing_lead(), password="proposing-lead-2026")
    page.goto(reverse("policy:publish", args=[draft.pk]))
    page.click("form[action$='/publish'] button[type=submit]")
    page.wait_for_url(f"**{reverse('policy:version', args=[draft.pk])}")
    draft.refresh_from_db()
    assert draft.status == PolicyVersion.Status.PUBLISHED
    assert (draft.proposed_by, draft.approved_by.username) == (safety_lead, "proposing-lead")
    assert NEW_LINE in page.locator("#category-medical").inner_text()
    screenshot(page, "04-policy-v2-published")
    login_as(page, safety_lead)

    # --- A round under the new version.
    page.goto(reverse("rounds:new"))
    page.fill("#id_name", "November check")
    page.select_option("#id_policy_version", value=str(draft.pk))
    page.fill("#id_period_start", DAY.isoformat())
    page.fill("#id_period_end", DAY.isoformat())
    page.fill("#id_double_review_share", "1")
    page.fill("#id_gold_rate", "0")
    page.fill("#id_budget", "24")
    screenshot(page, "05-round-new")
    # Enter in a field submits the form (implicit submission), as a keyboard user would.
    page.press("#id_budget", "Enter")
    page.wait_for_url("**/rounds/*/")
    audit_round = AuditRound.objects.get(name="November check")
    assert audit_round.policy_version_id == draft.pk
    # (No screenshot before the HTMX swap: Playwright's screenshot leaves style="" on inputs,
    # and htmx copying that attribute on settle is reported as a CSP violation.)

    # Quotas: raising a minimum re-renders the preview in place (no navigation).
    page.evaluate("() => { window.__samePage = true; }")
    row = "#quota-table tbody tr:has(input[name='quota-finance-refusal'])"
    planned = page.locator(f"{row} td.num").nth(3)
    assert int(planned.inner_text()) < 15
    quota = page.locator("input[name='quota-finance-refusal']")
    quota.fill("15")
    quota.dispatch_event("change")
    page.wait_for_function(
        "sel => Number(document.querySelector(sel)?.innerText) >= 15",
        arg=f"{row} td.num:nth-child(6)",
    )
    assert page.evaluate("() => window.__samePage === true"), "the page reloaded"
    assert page.locator("input[name='quota-finance-refusal']").input_value() == "15"
    screenshot(page, "06-quotas-preview")

    # Draw: the task runs when the request commits (eager Celery); the round opens.
    page.click("form[action$='/draw'] button[type=submit]")
    page.wait_for_url(f"**{reverse('rounds:detail', args=[audit_round.pk])}")
    page.locator("#strata-table").wait_for()
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.OPEN
    assert "Open" in page.locator("h1 .pill").inner_text()
    assert page.locator("#draw-progress").count() == 0
    assert audit_round.items.count() >= 24
    screenshot(page, "08-round-open")

    # --- Two reviewers disagree on one item; the lead adjudicates it.
    disputed = _review_everything(audit_round, reviewer, second_reviewer)
    disputed.refresh_from_db()
    assert disputed.status == RoundItem.Status.ADJUDICATION
    page.goto(reverse("adjudication:queue"))
    screenshot(page, "09-adjudication-queue")
    page.goto(reverse("adjudication:item", args=[disputed.pk]))
    assert {"alice", "anna"} <= set(page.locator("main table.data").first.inner_text().split())
    screenshot(page, "10-adjudication-item")
    page.select_option("form[action$='/decide'] select[name=decision]", "help")
    page.fill("form[action$='/decide'] textarea[name=note]", "General information is fine.")
    page.click("form[action$='/decide'] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    disputed.refresh_from_db()
    assert disputed.status == RoundItem.Status.DONE and disputed.final_decision == "help"
    assert not audit_round.items.exclude(status=RoundItem.Status.DONE).exists()

    # --- The dashboard for the round: one chart, both axes.
    page.goto(reverse("dashboard:round", args=[audit_round.pk]))
    chart = page.locator("svg#trend-chart")
    chart.wait_for(state="visible")
    titles = chart.locator("text.panel-title").all_text_contents()
    assert "False-refusal rate (served)" in titles
    assert "True-refusal rate (served)" in titles
    assert chart.locator("text.axis-label").count() >= 2
    assert page.locator("#card-frr").is_visible()
    assert page.locator("#card-trr").is_visible()
    screenshot(page, "11-dashboard")
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
