"""Agreement between reviewers, with final labels and with gold items, and reviewer throughput.

Units are items with at least two verdicts under the item's current policy version. *Unsure* is
kept as its own nominal category: leaving it out would hide the very disagreement it signals.
Agreement with the final label and gold accuracy count help/decline finals only.
"""

import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import F

from auditcore.models import Decision, Verdict
from auditcore.stats import gwet_ac1, krippendorff_alpha_nominal, percent_agreement

FINAL_DECISIONS = (Decision.HELP, Decision.DECLINE)


@dataclass(frozen=True)
class AgreementRow:
    label: str
    items: int  # items with two or more verdicts
    verdicts: int
    alpha: float | None
    raw: float | None
    ac1: float | None

    @property
    def alpha_reading(self) -> str:
        if self.alpha is None:
            return "undefined"
        if self.alpha >= 0.8:
            return "reliable"
        if self.alpha >= 0.667:
            return "tentative"
        return "unreliable"


@dataclass(frozen=True)
class ReviewerRow:
    reviewer: str
    verdicts: int
    with_final: int
    agree_with_final: float | None
    gold: int
    gold_accuracy: float | None
    median_seconds: float | None


@dataclass(frozen=True)
class AgreementReport:
    overall: AgreementRow
    by_round: list[AgreementRow]
    by_category: list[AgreementRow]
    reviewers: list[ReviewerRow]


def _row(label: str, units: dict[int, list[str]]) -> AgreementRow:
    lists = [decisions for decisions in units.values() if len(decisions) >= 2]
    return AgreementRow(
        label=label,
        items=len(lists),
        verdicts=sum(len(x) for x in lists),
        alpha=krippendorff_alpha_nominal(lists),
        raw=percent_agreement(lists),
        ac1=gwet_ac1(lists),
    )


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def agreement_report(*, round_id: int | None = None) -> AgreementReport:
    """All figures from one query over the current (non-superseded) verdicts."""
    verdicts = Verdict.objects.filter(
        superseded=False, policy_version_id=F("item__policy_version_id")
    )
    if round_id is not None:
        verdicts = verdicts.filter(item__round_id=round_id)
    rows = verdicts.values_list(
        "item_id",
        "decision",
        "seconds_spent",
        "reviewer__username",
        "item__round__name",
        "item__interaction__category",
        "item__final_decision",
        "item__is_gold",
        "item__gold_decision",
    ).order_by("item_id", "pk")

    units: dict[int, list[str]] = defaultdict(list)
    by_round: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    by_category: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    per_reviewer: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for item_id, decision, seconds, who, round_name, category, final, is_gold, gold in rows:
        units[item_id].append(decision)
        by_round[round_name][item_id].append(decision)
        by_category[category][item_id].append(decision)
        mine = per_reviewer[who]
        mine["seconds"].append(seconds)
        if is_gold and gold:
            mine["gold"].append(decision == gold)
        elif final in FINAL_DECISIONS:
            mine["final"].append(decision == final)

    reviewers = [
        ReviewerRow(
            reviewer=who,
            verdicts=len(data["seconds"]),
            with_final=len(data["final"]),
            agree_with_final=_share(sum(data["final"]), len(data["final"])),
            gold=len(data["gold"]),
            gold_accuracy=_share(sum(data["gold"]), len(data["gold"])),
            median_seconds=statistics.median(data["seconds"]) if data["seconds"] else None,
        )
        for who, data in sorted(per_reviewer.items())
    ]
    return AgreementReport(
        overall=_row("All items", units),
        by_round=[_row(name, u) for name, u in sorted(by_round.items())],
        by_category=[_row(name, u) for name, u in sorted(by_category.items())],
        reviewers=reviewers,
    )


@dataclass(frozen=True)
class GoldMiss:
    reviewer: str
    item_id: int
    round_name: str
    decision: str
    expected: str


def gold_misses() -> dict[str, list[GoldMiss]]:
    """Gold items answered wrongly, per reviewer."""
    rows = (
        Verdict.objects.filter(item__is_gold=True, superseded=False)
        .exclude(item__gold_decision="")
        .exclude(decision=F("item__gold_decision"))
        .values_list(
            "reviewer__username", "item_id", "item__round__name", "decision", "item__gold_decision"
        )
        .order_by("reviewer__username", "item_id")
    )
    misses: dict[str, list[GoldMiss]] = defaultdict(list)
    for who, item_id, round_name, decision, expected in rows:
        misses[who].append(GoldMiss(who, item_id, round_name, decision, expected))
    return dict(misses)
