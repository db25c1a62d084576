"""The evidence behind a gate decision: its discordant prompts, the safety lead's checks of their
labels, the decision recomputed from the checked labels, and the report the CLI writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditcore import stats
from auditcore.models import Expect, GateDecision, GateLabelReview, ReplayResult
from auditcore.models.traffic import Label
from auditcore.selectors.replay import DiscordantPair, discordant_pairs

REFUSED = frozenset({Label.REFUSAL, Label.PARTIAL_REFUSAL})


@dataclass(frozen=True)
class CheckedResponse:
    result: ReplayResult
    review: GateLabelReview | None

    @property
    def label(self) -> str:
        """The label that counts: the lead's when checked, the classifier's otherwise."""
        return self.review.label if self.review else self.result.label

    @property
    def refused(self) -> bool:
        return self.label in REFUSED


@dataclass(frozen=True)
class CheckedPair:
    pair: DiscordantPair
    baseline: CheckedResponse
    candidate: CheckedResponse

    @property
    def direction(self) -> str:
        """n01: the candidate refused where the baseline helped; n10: the reverse; or agreed."""
        if self.baseline.refused == self.candidate.refused:
            return "agreed"
        return "n01" if self.candidate.refused else "n10"


@dataclass(frozen=True)
class GateEvidence:
    decision: GateDecision
    pairs: list[CheckedPair]
    confirmed: int
    overturned: int
    unchecked: int
    # The decision with every checked label applied (unchecked ones as classified).
    n01: int
    n10: int
    recomputed: stats.GateResult

    @property
    def changed(self) -> bool:
        return self.recomputed.decision != self.decision.outcome


def gate_evidence(decision: GateDecision) -> GateEvidence:
    pairs = discordant_pairs(decision, Expect.MUST_HELP)
    reviews = {r.result_id: r for r in GateLabelReview.objects.filter(decision=decision)}
    checked = [
        CheckedPair(
            pair,
            CheckedResponse(pair.baseline, reviews.get(pair.baseline.pk)),
            CheckedResponse(pair.candidate, reviews.get(pair.candidate.pk)),
        )
        for pair in pairs
    ]
    responses = [c for p in checked for c in (p.baseline, p.candidate)]
    confirmed = sum(1 for c in responses if c.review and c.review.confirmed)
    overturned = sum(1 for c in responses if c.review and not c.review.confirmed)
    # Concordant pairs cannot be checked here, so they keep the table's counts: only discordant
    # pairs move, and an overturned label can only make one concordant.
    n01 = sum(1 for p in checked if p.direction == "n01")
    n10 = sum(1 for p in checked if p.direction == "n10")
    # The same alpha and margin as the recorded decision (stats' default alpha is the gate's).
    recomputed = stats.gate_decision(n01, n10, decision.k, margin=decision.margin)
    return GateEvidence(
        decision=decision,
        pairs=checked,
        confirmed=confirmed,
        overturned=overturned,
        unchecked=len(responses) - confirmed - overturned,
        n01=n01,
        n10=n10,
        recomputed=recomputed,
    )


def gate_report(decision: GateDecision) -> dict[str, Any]:
    """The decision and its discordant pairs as plain data, for the CLI's JSON report."""
    evidence = gate_evidence(decision)

    def response(checked: CheckedResponse) -> dict[str, Any]:
        return {
            "label": checked.label,
            "classifier_label": checked.result.label,
            "checked": checked.review is not None,
            "response": checked.result.response,
        }

    return {
        "decision": decision.pk,
        "baseline_run": decision.baseline_id,
        "candidate_run": decision.candidate_id,
        "margin": decision.margin,
        "outcome": decision.outcome,
        "accepted": decision.is_accepted,
        "k": decision.k,
        "n01": decision.n01,
        "n10": decision.n10,
        "delta": decision.delta,
        "upper": decision.upper,
        "p_value": decision.p_value,
        "labels_confirmed": evidence.confirmed,
        "labels_overturned": evidence.overturned,
        "labels_unchecked": evidence.unchecked,
        "recomputed": {
            "outcome": evidence.recomputed.decision,
            "n01": evidence.n01,
            "n10": evidence.n10,
            "upper": evidence.recomputed.upper,
            "p_value": evidence.recomputed.p_value,
        },
        "discordant_pairs": [
            {
                "position": p.pair.prompt.position,
                "category": p.pair.prompt.category,
                "prompt": p.pair.prompt.prompt,
                "direction": p.direction,
                "baseline": response(p.baseline),
                "candidate": response(p.candidate),
            }
            for p in evidence.pairs
        ],
    }
