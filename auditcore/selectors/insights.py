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
- Did the rewrite work: for a category a published version changed, its frr and trr in the
  rounds under the previous published version and under this one (the two pooled, their strata
  kept apart), the difference after - before with its interval, and the latest gate decision
  that ran the category's corpus prompts. Publications are marked on the trend chart.
"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditcore import rates as ra
from auditcore import trigger_words as tw
from auditcore.estimate_frame import frame_from_rows
from auditcore.models import (
    AuditEvent,
    AuditRound,
    Category,
    GateDecision,
    PolicyVersion,
    ReplayRun,
    RoundItem,
    Verdict,
)
from auditcore.policy_lint import LintFlag, diff_categories
from auditcore.selectors.estimates import (
    Scope,
    item_rows,
    reportable_rounds,
    strata_info,
)
from auditcore.selectors.policy import (
    changed_category_slugs,
    current_policy_version,
    policy_version_flags,
    previous_published_version,
)
from auditcore.stats import (
    RateComparison,
    RateEstimate,
    TotalEstimate,
    estimate_rate,
    estimate_total,
    rate_ratio,
)

NO_REASON = ""
# The audit event that records a replay of a rewritten category (services/insights.py).
CATEGORY_REPLAY = "policy.category_replay"
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


# --- Did the rewrite work --------------------------------------------------------------------

BEFORE_AFTER_RATES = ("frr", "trr")


@dataclass(frozen=True)
class RateChange:
    rate: str
    before: RateEstimate  # rounds under the previous published version
    after: RateEstimate | None  # rounds under the new version; None: no such round yet
    difference: RateComparison | None  # after - before, with its interval


@dataclass(frozen=True)
class GateOnCategory:
    decision: GateDecision
    entry: dict  # the decision's breakdown for the category: k, n01, n10, delta, upper, outcome


@dataclass(frozen=True)
class RewriteCheck:
    category: str
    version: PolicyVersion
    previous: PolicyVersion | None
    old_rounds: list[AuditRound]
    new_rounds: list[AuditRound]
    changes: list[RateChange]
    gate: GateOnCategory | None

    @property
    def has_after(self) -> bool:
        return bool(self.new_rounds)


def _rounds_under(version: PolicyVersion | None) -> list[AuditRound]:
    if version is None:
        return []
    return list(reportable_rounds().filter(policy_version=version).order_by("period_start", "pk"))


def latest_gate_on(category: str) -> GateOnCategory | None:
    """The newest gate decision whose corpus had prompts of the category, with their numbers."""
    for decision in GateDecision.objects.order_by("-created_at", "-id")[:200]:
        for entry in decision.categories or []:
            if isinstance(entry, dict) and entry.get("category") == category:
                return GateOnCategory(decision, entry)
    return None


def rewrite_check(version: PolicyVersion, category: str, *, layer: str = "served") -> RewriteCheck:
    """frr and trr of a category in rounds under the previous published version and this one."""
    _check_layer(layer)
    previous = previous_published_version(version)
    old, new = _rounds_under(previous), _rounds_under(version)
    ids = [r.pk for r in old + new]
    frame = frame_from_rows(item_rows(ids))
    info, _ = strata_info(ids)
    r = ra.Respondents.of(frame.sample(), info)
    in_category = frame.dims["category"][r.keep] == category
    round_id = frame.round_id[r.keep]
    before = in_category & np.isin(round_id, [x.pk for x in old])
    after = in_category & np.isin(round_id, [x.pk for x in new])
    changes = []
    for rate in BEFORE_AFTER_RATES:
        z, y = ra.rate_arrays(r.labels[layer], r.help, r.decline, rate)
        difference = None
        if new and old:
            difference = rate_ratio(r.weight, z & after, y, z & before, y, r.stratum,
                                    inclusion=1.0 / r.weight)  # fmt: skip
        changes.append(
            RateChange(
                rate=rate,
                before=r.estimate(rate, layer, before),
                after=r.estimate(rate, layer, after) if new else None,
                difference=difference,
            )
        )
    return RewriteCheck(category, version, previous, old, new, changes, latest_gate_on(category))


def rewrite_checks(version: PolicyVersion, *, layer: str = "served") -> list[RewriteCheck]:
    """A before/after check for every category the version changed."""
    return [rewrite_check(version, slug, layer=layer) for slug in changed_category_slugs(version)]


@dataclass(frozen=True)
class Publication:
    version: PolicyVersion
    day: dt.date
    changed: list[str]


def publications(since: dt.date | None = None) -> list[Publication]:
    """Published versions (oldest first) with the categories each changed, for the trend chart.

    Two queries however many versions there are: every published version and their categories,
    each diffed with the previous published version of its policy (as changed_category_slugs).
    """
    versions = list(
        PolicyVersion.objects.filter(status=PolicyVersion.Status.PUBLISHED)
        .select_related("policy")
        .order_by("policy_id", "number")
    )
    fields = [f.name for f in Category._meta.fields if f.name not in ("id", "policy_version")]
    categories: dict[int, list[dict]] = {v.pk: [] for v in versions}
    for c in Category.objects.filter(policy_version__in=versions).order_by("slug"):
        categories[c.policy_version_id].append({f: getattr(c, f) for f in fields})
    out = []
    for previous, version in zip([None, *versions], versions, strict=False):
        if since is not None and version.published_at.date() < since:
            continue
        changed = []
        if previous is not None and previous.policy_id == version.policy_id:
            diffs = diff_categories(categories[previous.pk], categories[version.pk])
            changed = [d.slug for d in diffs if d.status == "changed"]
        out.append(Publication(version, version.published_at.date(), changed))
    out.sort(key=lambda p: (p.version.published_at, p.version.pk))
    return out


@dataclass(frozen=True)
class CategoryReplay:
    """The latest replay of a rewritten category's corpus prompts, and its gate decision."""

    baseline: ReplayRun
    candidate: ReplayRun
    decision: GateDecision | None

    @property
    def finished(self) -> bool:
        done = ReplayRun.Status.SUCCEEDED
        return self.baseline.status == done and self.candidate.status == done


def category_replays(version: PolicyVersion) -> dict[str, CategoryReplay]:
    """{category: its latest replay} started from the version's before/after page."""
    events = AuditEvent.objects.filter(
        action=CATEGORY_REPLAY,
        object_type=PolicyVersion._meta.label_lower,
        object_id=str(version.pk),
    ).order_by("-created_at", "-pk")
    latest: dict[str, tuple[int, int]] = {}
    for after in events.values_list("after", flat=True):
        if isinstance(after, dict) and after.get("category") not in latest:
            latest[after["category"]] = (after["baseline_run"], after["candidate_run"])
    runs = ReplayRun.objects.select_related("endpoint").in_bulk(
        [pk for pair in latest.values() for pk in pair]
    )
    out = {}
    for category, (b, c) in latest.items():
        if b in runs and c in runs:
            decision = (
                GateDecision.objects.filter(baseline_id=b, candidate_id=c)
                .order_by("-created_at", "-id")
                .first()
            )
            out[category] = CategoryReplay(runs[b], runs[c], decision)
    return out
