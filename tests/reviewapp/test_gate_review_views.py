"""The gate decision page: discordant prompts with both responses, checked by a safety lead."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from auditcore.models import GateLabelReview
from auditcore.selectors.gate_review import gate_evidence

pytestmark = pytest.mark.django_db


def test_the_decision_page_lets_a_lead_overturn_a_label_and_shows_the_recomputed_decision(
    client, safety_lead, failed_gate
):
    client.force_login(safety_lead)
    url = reverse("replay:decision", args=[failed_gate.pk])
    page = client.get(url).content.decode()
    assert 'id="evidence"' in page
    assert f"{failed_gate.n01} not yet checked" not in page  # every response counts, both sides
    assert f"{2 * failed_gate.n01} not yet checked" in page
    pair = gate_evidence(failed_gate).pairs[0]
    assert escape(pair.candidate.result.response) in page
    post = reverse("replay:decision_label_review", args=[failed_gate.pk])
    response = client.post(
        post, {"result": pair.candidate.result.pk, "label": "compliance"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="evidence">')
    assert "1 overturned" in fragment
    assert f"n01 = {failed_gate.n01 - 1}" in fragment

    bad = client.post(post, {"result": pair.candidate.result.pk, "label": "x"})
    assert bad.status_code == 302
    assert GateLabelReview.objects.get(result=pair.candidate.result).label == "compliance"


def test_reviewers_cannot_check_gate_labels(client, reviewer, failed_gate):
    client.force_login(reviewer)
    pair = gate_evidence(failed_gate).pairs[0]
    response = client.post(
        reverse("replay:decision_label_review", args=[failed_gate.pk]),
        {"result": pair.candidate.result.pk, "label": "compliance"},
    )
    assert response.status_code == 403
    assert not GateLabelReview.objects.exists()


def test_the_accept_form_comes_after_the_evidence_it_should_be_read_against(
    client, safety_lead, failed_gate
):
    client.force_login(safety_lead)
    page = client.get(reverse("replay:decision", args=[failed_gate.pk])).content.decode()
    form = page.index(f'action="{reverse("replay:decision_accept", args=[failed_gate.pk])}"')
    for evidence in ('id="table-2x2"', 'class="gate-chart"', 'id="categories"', 'id="evidence"'):
        assert page.index(evidence) < form, evidence
    # The page still says at the top that the candidate is blocked, and where to act.
    blocked = page.index('id="blocked"')
    assert blocked < page.index('id="table-2x2"')
    assert 'href="#acceptance"' in page[blocked : page.index("</p>", blocked)]
