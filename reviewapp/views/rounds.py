"""Audit rounds: create, quotas with a live preview, draw, follow the draw, close; gold items."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import Alert, AuditRound, GoldItem, Interaction, Label
from auditcore.selectors.rounds import (
    gold_pool,
    round_close_preview,
    round_gold_items,
    round_list,
    round_plan,
    round_review_progress,
    round_strata,
)
from auditcore.services.alerts import alert_dismiss
from auditcore.services.rounds import (
    gold_item_deactivate,
    gold_item_mark,
    gold_item_write,
    round_close,
    round_create,
    round_draw_request,
    round_open_last_week,
    round_quotas_set,
    round_reviewers_assign,
)
from reviewapp.access import safety_lead_required
from reviewapp.background import needs_workers
from reviewapp.forms import (
    GoldMarkForm,
    GoldWriteForm,
    LastWeekForm,
    RoundCloseForm,
    RoundCreateForm,
    RoundReviewersForm,
    apply_error,
    form_errors_text,
)
from reviewapp.http import HtmxHttpRequest, not_found_as_404

MAX_QUOTA = 1_000_000
# The Last week form shares the new-round page with the full form: its own ids and names.
LAST_WEEK_PREFIX = "last_week"


def _get_round(pk: int) -> AuditRound:
    return get_object_or_404(
        AuditRound.objects.select_related("policy_version__policy", "created_by"), pk=pk
    )


@require_GET
@safety_lead_required
def rounds_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "reviewapp/rounds/list.html", {"rounds": round_list()})


def _new_page(request, form=None, last_week_form=None, status=200) -> HttpResponse:
    context = {
        "form": form or RoundCreateForm(),
        "last_week_form": last_week_form or LastWeekForm(prefix=LAST_WEEK_PREFIX),
    }
    return render(request, "reviewapp/rounds/new.html", context, status=status)


@require_http_methods(["GET", "POST"])
@safety_lead_required
def round_new(request: HtmxHttpRequest) -> HttpResponse:
    form = RoundCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            audit_round = round_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Round {audit_round} created; set its quotas, then draw.")
            return redirect("rounds:detail", pk=audit_round.pk)
    return _new_page(request, form=form, status=400 if request.method == "POST" else 200)


@require_POST
@safety_lead_required
@needs_workers
def round_last_week(request: HtmxHttpRequest) -> HttpResponse:
    """The weekly routine in one click: open (and draw) the round over last week, once."""
    form = LastWeekForm(request.POST, prefix=LAST_WEEK_PREFIX)
    if form.is_valid():
        try:
            opened = round_open_last_week(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            tasks.round_opened_enqueue(opened)
            audit_round = opened.audit_round
            if not opened.created:
                messages.info(request, f"{audit_round} is already open; nothing new was created.")
            elif opened.drawing:
                messages.success(request, f"{audit_round} opened; its sample is being drawn.")
            else:
                messages.warning(request, f"{audit_round} created but not drawn: {opened.problem}")
            return redirect("rounds:detail", pk=audit_round.pk)
    return _new_page(request, last_week_form=form, status=400)


def _quota_cells(plan) -> list[dict]:
    return [{"row": row, "name": f"quota-{row.category}-{row.outcome}"} for row in plan.quota_rows]


def _detail_context(audit_round: AuditRound, plan=None, errors=None) -> dict:
    plan = plan or round_plan(audit_round)
    progress = round_review_progress(audit_round)
    return {
        "round": audit_round,
        "plan": plan,
        "cells": _quota_cells(plan),
        "outcomes": Label.choices,
        "strata": round_strata(audit_round),
        "gold_items": round_gold_items(audit_round)[:50],
        "editable": audit_round.status in (AuditRound.Status.DRAFT, AuditRound.Status.OPEN),
        "errors": errors or [],
        "progress": progress,
        "reviewers_form": RoundReviewersForm(initial={"reviewers": progress.assigned_ids}),
    }


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def round_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    return render(request, "reviewapp/rounds/detail.html", _detail_context(audit_round))


def _parse_quotas(request: HtmxHttpRequest, categories: list[str]) -> tuple[dict, int | None, list]:
    quotas, errors = {}, []
    for category in categories:
        for outcome, _ in Label.choices:
            raw = request.POST.get(f"quota-{category}-{outcome}")
            if raw is None:
                continue
            raw = raw.strip() or "0"
            if not raw.isdigit() or int(raw) > MAX_QUOTA:
                errors.append(f"{category}/{outcome}: enter a whole number from 0 to {MAX_QUOTA}")
                continue
            quotas[(category, outcome)] = int(raw)
    budget = None
    raw_budget = request.POST.get("budget")
    if raw_budget is not None:
        raw_budget = raw_budget.strip() or "0"
        if raw_budget.isdigit() and int(raw_budget) <= MAX_QUOTA:
            budget = int(raw_budget)
        else:
            errors.append(f"budget: enter a whole number from 0 to {MAX_QUOTA}")
    return quotas, budget, errors


@require_POST
@safety_lead_required
@vary_on_headers("HX-Request")
def round_quotas(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the quotas and budget, and answer with the refreshed preview."""
    audit_round = _get_round(pk)
    categories = round_plan(audit_round).categories
    quotas, budget, errors = _parse_quotas(request, categories)
    if not errors:
        try:
            audit_round = round_quotas_set(
                actor=request.user, audit_round=audit_round, quotas=quotas, budget=budget
            )
        except ApplicationError as exc:
            not_found_as_404(exc)
            errors.append(exc.message)
    status = 400 if errors else 200
    if request.htmx:
        context = _detail_context(audit_round, errors=errors)
        return render(request, "reviewapp/rounds/detail.html#plan", context, status=status)
    for error in errors:
        messages.error(request, error)
    return redirect("rounds:detail", pk=audit_round.pk)


@require_POST
@safety_lead_required
@needs_workers
@vary_on_headers("HX-Request")
def round_draw(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    try:
        round_draw_request(actor=request.user, audit_round=audit_round)
    except ApplicationError as exc:
        not_found_as_404(exc)
        messages.error(request, exc.message)
    else:
        tasks.round_draw_enqueue(audit_round.pk)
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("rounds:detail", pk=audit_round.pk)


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def round_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    if request.htmx and audit_round.status != AuditRound.Status.DRAWING:
        return HttpResponseClientRefresh()  # the draw ended: show the results
    if not request.htmx:
        return redirect("rounds:detail", pk=audit_round.pk)
    return render(request, "reviewapp/rounds/detail.html#progress", {"round": audit_round})


@require_http_methods(["GET", "POST"])
@safety_lead_required
def round_finish(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: what closing leaves unreviewed; POST: close, only under the version that page named."""
    audit_round = _get_round(pk)
    if request.method == "GET":
        context = {"round": audit_round, "impact": round_close_preview(audit_round)}
        return render(request, "reviewapp/rounds/close_confirm.html", context)
    form = RoundCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Confirm before closing: {form_errors_text(form)}")
        return redirect("rounds:close", pk=audit_round.pk)
    try:
        round_close(
            actor=request.user,
            audit_round=audit_round,
            policy_version=form.cleaned_data["policy_version"],
        )
    except ApplicationError as exc:
        not_found_as_404(exc)
        messages.error(request, exc.message)
    else:
        tasks.round_alerts_enqueue(audit_round.pk)
        messages.success(request, f"{audit_round} is closed; it can no longer change.")
    return redirect("rounds:detail", pk=audit_round.pk)


@require_POST
@safety_lead_required
def round_reviewers(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Assign reviewers to the round (none ticked: every reviewer)."""
    audit_round = _get_round(pk)
    form = RoundReviewersForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect("rounds:detail", pk=audit_round.pk)
    reviewers = list(form.cleaned_data["reviewers"])
    try:
        round_reviewers_assign(actor=request.user, audit_round=audit_round, reviewers=reviewers)
    except ApplicationError as exc:
        not_found_as_404(exc)
        messages.error(request, exc.message)
    else:
        who = ", ".join(r.get_username() for r in reviewers) or "every reviewer"
        messages.success(request, f"{audit_round} is now reviewed by {who}.")
    return redirect(reverse("rounds:detail", args=[audit_round.pk]) + "#review-progress")


@require_POST
@safety_lead_required
def alert_dismiss_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert_dismiss(alert=get_object_or_404(Alert, pk=pk))
    return redirect("dashboard:index")


# --- Gold items ---------------------------------------------------------------------------------


def _gold_page(request, write_form=None, mark_form=None, status=200) -> HttpResponse:
    context = {
        "pool": gold_pool()[:500],
        "write_form": write_form or GoldWriteForm(),
        "mark_form": mark_form or GoldMarkForm(),
    }
    return render(request, "reviewapp/rounds/gold.html", context, status=status)


@require_GET
@safety_lead_required
def gold_list(request: HtmxHttpRequest) -> HttpResponse:
    return _gold_page(request)


@require_POST
@safety_lead_required
def gold_write(request: HtmxHttpRequest) -> HttpResponse:
    form = GoldWriteForm(request.POST)
    if form.is_valid():
        try:
            gold_item_write(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Gold prompt added to the pool.")
            return redirect("rounds:gold")
    return _gold_page(request, write_form=form, status=400)


@require_POST
@safety_lead_required
def gold_mark(request: HtmxHttpRequest) -> HttpResponse:
    form = GoldMarkForm(request.POST)
    if form.is_valid():
        interaction = Interaction.objects.filter(pk=form.cleaned_data["interaction"]).first()
        if interaction is None:
            form.add_error("interaction", "No interaction has this id.")
        else:
            try:
                gold_item_mark(
                    actor=request.user,
                    interaction=interaction,
                    expected=form.cleaned_data["expected"],
                    note=form.cleaned_data["note"],
                )
            except ApplicationError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, f"Interaction {interaction.pk} is now a gold item.")
                return redirect("rounds:gold")
    return _gold_page(request, mark_form=form, status=400)


@require_POST
@safety_lead_required
def gold_retire(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    gold = get_object_or_404(GoldItem, pk=pk)
    gold_item_deactivate(actor=request.user, gold=gold)
    messages.success(request, "Gold item retired; rounds already drawn keep it.")
    return redirect(reverse("rounds:gold"))
