"""A lead follows a refusal the gateway added, from the dashboard to the corpus and a gate run."""

from django.urls import reverse

from auditcore.models import Corpus, GateDecision, ReplayRun
from auditcore.services import replay as svc
from tests.support.estimate_rounds import build_round
from tests.support.fake_chat_server import running_fake_chat_server

PROMPT = "How do I read the cholesterol numbers on my blood test?"


def _round_with_a_gateway_refusal():
    helped = {"weight": 2, "final": "help", "surface": "support-chat", "observed": "compliance"}
    blocked = {
        **helped,
        "prompt": PROMPT,
        "served": "refusal",
        "gateway": "blocked",
        "observed_served": "refusal",
    }
    strata = [
        {
            "key": "A",
            "category": "medical",
            "outcome": "compliance",
            "population": 10,
            "items": [blocked, *[dict(helped) for _ in range(4)]],
        }
    ]
    return build_round(strata, name="Served round")


def test_a_lead_promotes_a_gateway_false_refusal_and_gates_on_it(
    page, login_as, screenshot, safety_lead
):
    audit_round = _round_with_a_gateway_refusal()
    corpus = Corpus.objects.create(name="system-level")
    with running_fake_chat_server() as url:
        baseline = svc.endpoint_create(
            actor=safety_lead, name="base", base_url=url, model="helpful"
        )
        candidate = svc.endpoint_create(
            actor=safety_lead, name="cand", base_url=url, model="refuses-set"
        )
        login_as(page, safety_lead)
        page.goto(reverse("dashboard:round", args=[audit_round.pk]))
        # Served by default: the gateway's refusal is a confirmed false refusal.
        assert page.locator("#layer-switch [aria-current=page]").inner_text() == "served to users"
        row = page.locator("#examples tbody tr", has_text=PROMPT)
        assert "the gateway (the model complied)" in row.inner_text()
        row.locator("select[name=corpus_id]").select_option(str(corpus.pk))
        row.locator("button[type=submit]").click()
        page.wait_for_selector("#examples :text('Added to')")
        screenshot(page, "promoted")
        page.locator("#examples a", has_text="system-level").click()
        page.wait_for_selector("#prompts")
        entry = page.locator("#prompts tbody tr", has_text=PROMPT)
        assert "Must help at the system level" in entry.inner_text()
        # Replay the corpus against a baseline and a candidate, then gate.
        for endpoint in (baseline, candidate):
            page.goto(reverse("replay:runs"))
            page.select_option("select[name=corpus]", str(corpus.pk))
            page.select_option("select[name=endpoint]", str(endpoint.pk))
            page.click("form.form button[type=submit]")
            page.wait_for_load_state("domcontentloaded")
        runs = {r.endpoint_id: r for r in ReplayRun.objects.filter(status="succeeded")}
        assert set(runs) == {baseline.pk, candidate.pk}
        page.goto(reverse("replay:gate"))
        page.select_option("select[name=baseline]", str(runs[baseline.pk].pk))
        page.select_option("select[name=candidate]", str(runs[candidate.pk].pk))
        page.click("form.form button[type=submit]")
        page.wait_for_selector("#outcome")
    decision = GateDecision.objects.get()
    assert decision.k == 1
    assert page.locator("#outcome").inner_text() == decision.outcome
    screenshot(page, "gate-decision")
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
