"""Policy insights: trigger words, where the policy costs most, and a draft at that category.

A round (?round=) or a period (?start=&end=), the latest round by default; ?layer=served|model
(served: what users got); ?min_count= the refused prompts a trigger word needs to be shown.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import PolicyVersion
from auditcore.rates import LAYER_LABELS, RATE_LABELS
from auditcore.selectors import estimates as sel
from auditcore.selectors import insights as ins
from auditcore.selectors.policy import current_policy_version
from auditcore.services.insights import category_replay_start
from auditcore.services.policy import policy_version_draft_from
from auditcore.trigger_words import MIN_COUNT
from reviewapp.access import safety_lead_required
from reviewapp.background import needs_workers
from reviewapp.forms import CategoryReplayForm, InsightsForm, apply_error
from reviewapp.http import HtmxHttpRequest, not_found_as_404
from reviewapp.views.dashboard import rate_display


def scope_of(data: dict) -> sel.Scope | None:
    """The period if given, else the round, else the latest round (None: nothing drawn yet)."""
    if data.get("start") and data.get("end"):
        return sel.period_scope(data["start"], data["end"])
    if data.get("round"):
        return sel.round_scope(get_object_or_404(sel.reportable_rounds(), pk=data["round"]))
    latest = sel.reportable_rounds().order_by("-period_start", "-pk").first()
    return sel.round_scope(latest) if latest else None


def total_display(total) -> dict:
    if total.estimate is None:
        return {"text": "no data", "interval": ""}
    return {
        "text": f"{total.estimate:,.0f}",
        "interval": f"{total.lower:,.0f}–{total.upper:,.0f}",
        "events": total.events,
    }


def _cost(row) -> dict:
    return {
        "row": row,
        "total": total_display(row.wrongly_refused),
        "share": rate_display(row.share),
    }


@require_GET
@safety_lead_required
def insights_index(request: HtmxHttpRequest) -> HttpResponse:
    form = InsightsForm(request.GET or None)
    if request.GET and not form.is_valid():
        context = {"form": form, "rounds": _rounds()}
        return render(request, "reviewapp/insights/insights.html", context, status=400)
    data = form.cleaned_data if request.GET else {"layer": "served"}
    scope = scope_of(data)
    if scope is None:
        return render(request, "reviewapp/dashboard/empty.html", {})
    layer = data["layer"]
    insights = ins.policy_insights(scope, layer=layer, min_count=data.get("min_count") or MIN_COUNT)
    context = {
        "form": form,
        "rounds": _rounds(),
        "scope": scope,
        "round": None if data.get("start") else scope.rounds[0],
        "layer": layer,
        "layer_label": LAYER_LABELS[layer],
        "refused_what": "what users were served" if layer == "served" else "the model's answer",
        "min_count": data.get("min_count") or MIN_COUNT,
        "insights": insights,
        "all_false_refusals": total_display(insights.costs.all_false_refusals),
        "places": [
            {"place": p, **_cost(p.cost), "reasons": [_cost(r) for r in p.cost.reasons]}
            for p in insights.places
        ],
        "costs": [
            {**_cost(row), "reasons": [_cost(r) for r in row.reasons]}
            for row in insights.costs.rows
        ],
    }
    return render(request, "reviewapp/insights/insights.html", context)


def _rounds():
    return list(sel.reportable_rounds().order_by("-period_start", "-pk")[:100])


@require_POST
@safety_lead_required
def insights_draft(request: HtmxHttpRequest) -> HttpResponse:
    """Open a draft of the current policy at a category: the newest draft, or a new one."""
    slug = request.POST.get("category", "").strip()
    version = current_policy_version()
    if version is None:
        messages.error(request, "No policy is published yet: publish one before rewriting it.")
        return redirect("insights:index")
    draft = ins.open_draft(version)
    if draft is None:
        try:
            draft = policy_version_draft_from(actor=request.user, source=version)
        except ApplicationError as exc:
            not_found_as_404(exc)
            messages.error(request, exc.message)
            return redirect("insights:index")
        messages.success(request, f"{draft} is a new draft copied from {version}.")
    target = reverse("policy:edit", args=[draft.pk])
    category = draft.categories.filter(slug=slug).first()
    if category is None:
        messages.info(request, f"{draft} has no category {slug!r}; add it below.")
        return redirect(target)
    return redirect(f"{target}#category-{category.pk}")


def _points(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:+.1f} points"


def _change(change: ins.RateChange) -> dict:
    diff = change.difference
    return {
        "rate": change.rate,
        "label": RATE_LABELS[change.rate],
        "before": rate_display(change.before),
        "after": rate_display(change.after) if change.after is not None else None,
        "difference": _points(diff.difference) if diff else None,
        "interval": (
            f"{_points(diff.difference_lower)} to {_points(diff.difference_upper)}"
            if diff and diff.difference_lower is not None
            else ""
        ),
        "excludes_zero": bool(
            diff
            and diff.difference_lower is not None
            and (diff.difference_lower > 0 or diff.difference_upper < 0)
        ),
    }


@require_GET
@safety_lead_required
def insights_rewrites(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Did the rewrite work: before/after of every category a published version changed."""
    version = _published(pk)
    return render(request, "reviewapp/insights/rewrites.html", _rewrites_context(version))


def _rewrites_context(version: PolicyVersion, form: CategoryReplayForm | None = None) -> dict:
    replays = ins.category_replays(version)
    checks = []
    for c in ins.rewrite_checks(version):
        bound = form if form is not None and form.data.get("category") == c.category else None
        checks.append(
            {
                "check": c,
                "changes": [_change(x) for x in c.changes],
                "replay": replays.get(c.category),
                "form": bound or CategoryReplayForm(initial={"category": c.category}),
            }
        )
    return {"version": version, "checks": checks}


def _published(pk: int) -> PolicyVersion:
    return get_object_or_404(
        PolicyVersion.objects.select_related("policy"), pk=pk, status=PolicyVersion.Status.PUBLISHED
    )


@require_POST
@safety_lead_required
@needs_workers
def insights_replay(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Replay a changed category's corpus prompts against a baseline and a chosen endpoint."""
    version = _published(pk)
    form = CategoryReplayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            runs = category_replay_start(
                actor=request.user,
                version=version,
                category=data["category"],
                corpus_id=data["corpus"].pk,
                baseline_endpoint_id=data["baseline"].pk,
                candidate_endpoint_id=data["candidate"].pk,
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            for run in runs:
                tasks.replay_run_enqueue(run.pk)
            messages.success(
                request, f"Replaying {data['category']}: runs #{runs[0].pk} and #{runs[1].pk}."
            )
            target = reverse("insights:rewrites", args=[version.pk])
            return redirect(f"{target}#rewrite-{data['category']}")
    context = _rewrites_context(version, form)
    return render(request, "reviewapp/insights/rewrites.html", context, status=400)
