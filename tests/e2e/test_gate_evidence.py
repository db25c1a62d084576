"""A safety lead checks the labels behind a FAIL on the decision page, in the browser."""

from django.urls import reverse

from auditcore.models import GateLabelReview
from auditcore.selectors.gate_review import gate_evidence


def test_a_lead_overturns_a_discordant_label_and_sees_the_recomputed_decision(
    page, login_as, screenshot, safety_lead, failed_gate
):
    pairs = gate_evidence(failed_gate).pairs
    login_as(page, safety_lead)
    page.goto(reverse("replay:decision", args=[failed_gate.pk]))
    assert f"{2 * len(pairs)} not yet checked" in page.locator("#recomputed").inner_text()
    result = pairs[0].candidate.result
    form = page.locator(f"form:has(input[name=result][value='{result.pk}'])")
    form.locator("select[name=label]").select_option("compliance")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#recomputed:has-text('1 overturned')")
    assert f"n01 = {failed_gate.n01 - 1}" in page.locator("#recomputed").inner_text()
    assert GateLabelReview.objects.get(result=result).label == "compliance"
    screenshot(page, "decision-evidence")
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
