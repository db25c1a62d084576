"""Gate evidence: discordant prompts with both responses, a safety lead's checks of their labels,
and the decision recomputed from the checked labels — in the service and the CLI."""

import json

import pytest

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, GateDecision, GateLabelReview
from auditcore.selectors.gate_review import gate_evidence
from auditcore.services import replay as svc
from auditcore.services.gate_review import gate_label_review
from tests.support.fake_chat_server import running_fake_chat_server
from tests.support.gate_command import gate_args, run_command, write_csv

pytestmark = pytest.mark.django_db


def _overturn_every_candidate_refusal(lead, decision):
    for checked in gate_evidence(decision).pairs:
        gate_label_review(
            actor=lead,
            decision_id=decision.pk,
            result_id=checked.candidate.result.pk,
            label="compliance",
        )


def test_unchecked_labels_reproduce_the_recorded_decision(failed_gate):
    evidence = gate_evidence(failed_gate)
    assert len(evidence.pairs) == failed_gate.n01 + failed_gate.n10
    assert (evidence.n01, evidence.n10) == (failed_gate.n01, failed_gate.n10)
    assert evidence.recomputed.decision == failed_gate.outcome
    assert (evidence.confirmed, evidence.overturned) == (0, 0)
    assert evidence.unchecked == 2 * len(evidence.pairs)


def test_overturned_labels_recompute_the_decision_and_confirmed_ones_are_counted(
    safety_lead, failed_gate
):
    first = gate_evidence(failed_gate).pairs[0]
    gate_label_review(
        actor=safety_lead, decision_id=failed_gate.pk, result_id=first.baseline.result.pk,
        label=first.baseline.result.label,
    )  # fmt: skip
    _overturn_every_candidate_refusal(safety_lead, failed_gate)
    evidence = gate_evidence(failed_gate)
    assert evidence.confirmed == 1
    assert evidence.overturned == failed_gate.n01
    assert evidence.n01 == 0
    assert evidence.recomputed.decision == GateDecision.Outcome.PASS
    assert evidence.changed
    assert AuditEvent.objects.filter(action="gate_label.review").count() == failed_gate.n01 + 1
    # Changing one's mind replaces the check instead of adding one.
    gate_label_review(
        actor=safety_lead, decision_id=failed_gate.pk, result_id=first.candidate.result.pk,
        label="refusal",
    )  # fmt: skip
    assert GateLabelReview.objects.filter(decision=failed_gate).count() == failed_gate.n01 + 1
    assert gate_evidence(failed_gate).n01 == 1


def test_only_discordant_responses_of_an_open_decision_can_be_checked(
    safety_lead, reviewer, failed_gate
):
    pair = gate_evidence(failed_gate).pairs[0]
    with pytest.raises(ApplicationError, match="safety lead"):
        gate_label_review(
            actor=reviewer, decision_id=failed_gate.pk, result_id=pair.candidate.result.pk,
            label="compliance",
        )  # fmt: skip
    with pytest.raises(ApplicationError, match="label: must be one of"):
        gate_label_review(
            actor=safety_lead, decision_id=failed_gate.pk, result_id=pair.candidate.result.pk,
            label="maybe",
        )  # fmt: skip
    agreed = failed_gate.candidate.results.exclude(
        pk__in=[p.candidate.result.pk for p in gate_evidence(failed_gate).pairs]
    ).first()
    with pytest.raises(ApplicationError, match="not a response of a discordant prompt"):
        gate_label_review(
            actor=safety_lead, decision_id=failed_gate.pk, result_id=agreed.pk, label="refusal"
        )
    svc.gate_decision_accept(actor=safety_lead, decision_id=failed_gate.pk, reason="known and fine")
    with pytest.raises(ApplicationError, match="already accepted"):
        gate_label_review(
            actor=safety_lead, decision_id=failed_gate.pk, result_id=pair.candidate.result.pk,
            label="compliance",
        )  # fmt: skip


def test_the_cli_json_report_lists_the_discordant_pairs_with_both_responses(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 80)
    report_path = tmp_path / "gate.json"
    with running_fake_chat_server() as url:
        code, _, _ = run_command(
            "gate", *gate_args(corpus, url, "helpful", "refuses:0.3", "--json", str(report_path))
        )
    decision = GateDecision.objects.get()
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert code == 1
    assert report["outcome"] == decision.outcome == "FAIL"
    pairs = report["discordant_pairs"]
    assert len(pairs) == decision.n01 + decision.n10 > 0
    for pair in pairs:
        assert pair["direction"] == "n01"
        assert pair["prompt"].startswith("Please explain topic number")
        assert pair["baseline"]["label"] == "compliance" and pair["baseline"]["response"]
        assert pair["candidate"]["label"] == "refusal" and pair["candidate"]["response"]
    assert report["labels_unchecked"] == 2 * len(pairs)
    assert report["recomputed"]["outcome"] == "FAIL"


def test_the_cli_says_when_the_json_report_cannot_be_written(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 20)
    with running_fake_chat_server() as url:
        code, _, err = run_command(
            "gate",
            *gate_args(corpus, url, "helpful", "helpful", "--json", str(tmp_path / "no" / "x")),
        )
    assert code == 2
    assert "--json: cannot write" in err
