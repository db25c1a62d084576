"""Policy insights: which words trip the model and where the policy costs the most wrong refusals.

Both read a round or a period (auditcore.selectors.estimates.Scope) the way the estimates do:
the non-gold items, their final calls, what reviewers observed (the classifier's label only
where nobody did), d = 1/π adjusted for nonresponse within strata (auditcore.rates.Respondents).

- A *confirmed false refusal* is a respondent whose final call is "should help" and who was
  refused (incl. partially) at the chosen layer: served (what users got, the default) or model.
- Trigger words (auditcore.trigger_words): per category, the terms of the redacted prompts
  over-represented in its confirmed false refusals against its helped "should help" prompts.
- Costs: per category, and per reason code reviewers gave with "should help", the estimated
  number of wrongly refused requests in the population (a design-weighted total, with its
  interval) and the share of all false refusals (a ratio, Korn-Graubard interval), ranked.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditcore import rates as ra
from auditcore import trigger_words as tw
from auditcore.models import Category, PolicyVersion, RoundItem, Verdict
from auditcore.policy_lint import LintFlag
from auditcore.selectors.estimates import Scope, frame_from_rows, item_rows, strata_info
from auditcore.selectors.policy import current_policy_version, policy_version_flags
from auditcore.stats import RateEstimate, TotalEstimate, estimate_rate, estimate_total

NO_REASON = ""
TOP_PLACES = 3


@dataclass
class Judged:
    """A scope's respondents with what the insights need, one entry per respondent."""

    respondents: ra.Respondents
    item_id: np.ndarray
    interaction_id: np.ndarray
    category: np.ndarray

    def false_refusals(self, layer: str) -> np.ndarray:
        z, y = ra.rate_arrays(
            self.respondents.labels[layer], self.respondents.help, self.respondents.decline, "frr"
        )
        return z & y

    @property
    def inclusion(self) -> np.ndarray:
        return 1.0 / self.respondents.weight


def judged(scope: Scope) -> Judged:
    ids = scope.round_ids
    frame = frame_from_rows(item_rows(ids))
    info, _ = strata_info(ids)
    respondents = ra.Respondents.of(frame.sample(), info)
    keep = respondents.keep
    return Judged(
        respondents=respondents,
        item_id=frame.item_id[keep],
        interaction_id=frame.interaction_id[keep],
        category=frame.dims["category"][keep],
    )


def _check_layer(layer: str) -> None:
    if layer not in ra.LAYERS:
        raise ValueError(f"unknown layer {layer!r}")


# --- Trigger words ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryTriggers:
    category: str
    refused: int  # confirmed false refusals (sampled prompts)
    helped: int  # "should help" prompts that were helped
    terms: list[tw.TermScore]


def _help_prompts(round_ids: Sequence[int]) -> dict[int, str]:
    """{item id: redacted prompt} of the rounds' final "should help" items."""
    return dict(
        RoundItem.objects.filter(
            round_id__in=list(round_ids),
            is_gold=False,
            status=RoundItem.Status.DONE,
            final_decision="help",
        ).values_list("id", "interaction__prompt")
    )


def trigger_words(
    scope: Scope,
    *,
    layer: str = "served",
    min_count: int = tw.MIN_COUNT,
    data: Judged | None = None,
) -> list[CategoryTriggers]:
    """Per category (alphabetical) the terms shown, highest z first."""
    _check_layer(layer)
    data = data or judged(scope)
    r = data.respondents
    refused = data.false_refusals(layer)
    prompts = _help_prompts(scope.round_ids)
    out = []
    for category in sorted(set(data.category[r.help].tolist())):
        members = np.flatnonzero(r.help & (data.category == category))
        batch = [
            tw.Prompt(
                text=prompts.get(int(data.item_id[i]), ""),
                weight=float(r.weight[i]),
                refused=bool(refused[i]),
                ref=int(data.interaction_id[i]),
            )
            for i in members
        ]
        n_refused = sum(p.refused for p in batch)
        out.append(
            CategoryTriggers(
                category=category,
                refused=n_refused,
                helped=len(batch) - n_refused,
                terms=tw.trigger_terms(batch, min_count=min_count),
            )
        )
    return out


# --- Where the policy costs most -------------------------------------------------------------


@dataclass(frozen=True)
class ReasonCost:
    code: str  # NO_REASON when reviewers gave none
    label: str
    wrongly_refused: TotalEstimate  # estimated false refusals in the population
    share: RateEstimate  # of all false refusals in the scope


@dataclass(frozen=True)
class CategoryCost:
    category: str
    wrongly_refused: TotalEstimate
    share: RateEstimate
    reasons: list[ReasonCost]


@dataclass(frozen=True)
class Costs:
    layer: str
    all_false_refusals: TotalEstimate
    rows: list[CategoryCost]  # most wrongly refused requests first

    @property
    def top(self) -> list[CategoryCost]:
        """The top places to rewrite: categories with a confirmed false refusal, costliest first."""
        return [row for row in self.rows if row.wrongly_refused.events][:TOP_PLACES]


def help_reasons(item_ids: Sequence[int]) -> dict[int, str]:
    """{item id: the reason code reviewers gave most often with "should help"} (ties: by code)."""
    counts: dict[int, Counter] = {}
    rows = Verdict.objects.filter(
        item_id__in=list(item_ids), decision="help", superseded=False
    ).exclude(reason_code="")
    for item_id, code in rows.values_list("item_id", "reason_code"):
        counts.setdefault(item_id, Counter())[code] += 1
    return {
        item_id: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for item_id, c in counts.items()
    }


def policy_costs(
    scope: Scope,
    *,
    layer: str = "served",
    data: Judged | None = None,
    reason_labels: dict[str, str] | None = None,
) -> Costs:
    _check_layer(layer)
    data = data or judged(scope)
    r = data.respondents
    false_refusal = data.false_refusals(layer)
    w, strata, inclusion = r.weight, r.stratum, data.inclusion
    reasons = help_reasons(data.item_id[false_refusal].tolist())
    reason = np.array([reasons.get(int(i), NO_REASON) for i in data.item_id.tolist()], dtype=object)
    labels = reason_labels or {}

    def cost(mask: np.ndarray) -> tuple[TotalEstimate, RateEstimate]:
        return (
            estimate_total(w, false_refusal & mask, strata, inclusion=inclusion),
            estimate_rate(w, false_refusal, mask, strata, inclusion=inclusion),
        )

    rows = []
    for category in sorted(set(data.category.tolist())):
        in_category = data.category == category
        total, share = cost(in_category)
        reason_rows = []
        for code in sorted(set(reason[false_refusal & in_category].tolist())):
            r_total, r_share = cost(in_category & (reason == code))
            reason_rows.append(
                ReasonCost(code, labels.get(code, code or "no reason code"), r_total, r_share)
            )
        reason_rows.sort(key=lambda x: -(x.wrongly_refused.estimate or 0.0))
        rows.append(CategoryCost(category, total, share, reason_rows))
    rows.sort(key=lambda x: (-(x.wrongly_refused.estimate or 0.0), x.category))
    return Costs(layer, estimate_total(w, false_refusal, strata, inclusion=inclusion), rows)


# --- The places to rewrite, with their policy text -------------------------------------------


@dataclass(frozen=True)
class RewritePlace:
    cost: CategoryCost
    policy_category: Category | None  # in the current published version; None: not there
    flags: list[LintFlag]
    triggers: list[tw.TermScore]


@dataclass(frozen=True)
class Insights:
    scope: Scope
    layer: str
    version: PolicyVersion | None  # the current published policy version
    costs: Costs
    triggers: list[CategoryTriggers]
    places: list[RewritePlace]  # the top places to rewrite


def policy_insights(
    scope: Scope, *, layer: str = "served", min_count: int = tw.MIN_COUNT
) -> Insights:
    """Costs, trigger words and the top places to rewrite beside the current policy text."""
    _check_layer(layer)
    data = judged(scope)
    version = current_policy_version()
    categories = {c.slug: c for c in version.categories.all()} if version else {}
    reason_labels = {
        code["code"]: code.get("label") or code["code"]
        for c in categories.values()
        for code in c.reason_codes
    }
    flags: dict[str, list[LintFlag]] = {}
    for flag in policy_version_flags(version) if version else []:
        flags.setdefault(flag.slug, []).append(flag)
    costs = policy_costs(scope, layer=layer, data=data, reason_labels=reason_labels)
    triggers = trigger_words(scope, layer=layer, min_count=min_count, data=data)
    by_category = {t.category: t.terms for t in triggers}
    places = []
    for row in costs.top:
        places.append(
            RewritePlace(
                row,
                categories.get(row.category),
                flags.get(row.category, []),
                by_category.get(row.category, []),
            )
        )
    return Insights(scope, layer, version, costs, triggers, places)


def open_draft(version: PolicyVersion) -> PolicyVersion | None:
    """The newest draft of the version's policy numbered after it (a rewrite in progress)."""
    return (
        PolicyVersion.objects.filter(
            policy_id=version.policy_id,
            status=PolicyVersion.Status.DRAFT,
            number__gt=version.number,
        )
        .order_by("-number")
        .first()
    )
