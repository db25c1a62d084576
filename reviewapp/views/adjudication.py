"""Safety leads: the adjudication queue, an item and its final call, corrections, agreement."""

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditRound, Decision, Label
from auditcore.rates import refusal_cause
from auditcore.selectors.agreement import agreement_report, gold_misses
from auditcore.selectors.estimates import item_outcome
from auditcore.selectors.replay import corpus_list
from auditcore.selectors.review import (
    AdjudicationDetail,
    adjudication_item,
    adjudication_queue,
    item_comments,
    observation_disputes,
    wrong_category_counts,
)
from auditcore.services import review as review_services
from reviewapp.access import safety_lead_required
from reviewapp.forms import AdjudicationFilterForm, CommentForm, control_character_error
from reviewapp.http import HtmxHttpRequest, not_found_as_404
from reviewapp.views.review import comment_post


def _get_item_for_lead(request: HtmxHttpRequest, item_id: int) -> AdjudicationDetail:
    detail = adjudication_item(item_id=item_id, viewer=request.user)
    if detail is None:
        raise Http404("No such item.")
    return detail


@require_GET
@vary_on_headers("HX-Request")
@safety_lead_required
def adjudication_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = AdjudicationFilterForm(request.GET or None)
    chosen = filters.filters() if filters.is_bound and filters.is_valid() else {}
    return render(
        request,
        "reviewapp/adjudication/queue.html",
        {
            "filters": filters,
            "query": request.GET.urlencode() if chosen else "",
            "rows": adjudication_queue(**chosen),
            "disputes": observation_disputes(),
            "wrong_categories": wrong_category_counts(),
            "gold_misses": sorted(gold_misses().items()),
        },
    )


@require_GET
@safety_lead_required
def adjudication_detail(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _detail_page(request, item_id)


def _detail_page(
    request: HtmxHttpRequest, item_id: int, comment_form: CommentForm | None = None
) -> HttpResponse:
    detail = _get_item_for_lead(request, item_id)
    # A confirmed false refusal (should help, refused by the model or the gateway) can join a
    # must-help corpus.
    cause = refusal_cause(*item_outcome(detail.item))
    promotable = detail.item.final_decision == Decision.HELP and cause is not None
    return render(
        request,
        "reviewapp/adjudication/item.html",
        {
            "detail": detail,
            "decisions": Decision.choices,
            "labels": Label.choices,
            "promotable": promotable,
            "cause": cause,
            "corpora": corpus_list() if promotable else [],
            "comments": item_comments(item_id=item_id),
            "query": request.GET.urlencode(),
            "comment_form": comment_form or CommentForm(),
        },
    )


@require_POST
@safety_lead_required
def adjudication_decide(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    _get_item_for_lead(request, item_id)
    typed = control_character_error(request.POST, ("decision", "note"))
    if typed:
        messages.error(request, typed)
        return redirect("adjudication:item", item_id=item_id)
    try:
        review_services.adjudication_record(
            adjudicator=request.user,
            item_id=item_id,
            decision=request.POST.get("decision", ""),
            note=request.POST.get("note", ""),
        )
    except ApplicationError as error:
        not_found_as_404(error)
        messages.error(request, error.message)
        return redirect("adjudication:item", item_id=item_id)
    messages.success(request, f"Item {item_id}: final verdict recorded.")
    if request.POST.get("then") == "next":
        return _next_in_queue(request)
    return redirect("adjudication:queue")


def _next_in_queue(request: HtmxHttpRequest) -> HttpResponse:
    """ "Decide and next": the first item still waiting under the same filters, or the queue."""
    query = request.POST.get("query", "")
    filters = AdjudicationFilterForm(QueryDict(query))
    chosen = filters.filters() if query and filters.is_valid() else {}
    rows = adjudication_queue(**chosen)
    suffix = f"?{query}" if chosen else ""
    if not rows:
        messages.info(request, "Nothing more waits for adjudication here.")
        return redirect(reverse("adjudication:queue") + suffix)
    return redirect(reverse("adjudication:item", args=[rows[0].item_id]) + suffix)


@require_POST
@safety_lead_required
def verdict_correct(request: HtmxHttpRequest, item_id: int, verdict_id: int) -> HttpResponse:
    detail = _get_item_for_lead(request, item_id)
    if verdict_id not in {v.pk for v in detail.verdicts}:
        raise Http404("No such verdict on this item.")
    return _audited_change(
        request,
        item_id,
        lambda: review_services.verdict_correct(
            actor=request.user,
            verdict_id=verdict_id,
            decision=request.POST.get("decision", ""),
            reason_code=request.POST.get("reason_code", ""),
            reason=request.POST.get("reason", ""),
        ),
        "The verdict was corrected; the change is in the audit log.",
        fields=("decision", "reason_code", "reason"),
    )


def _audited_change(
    request: HtmxHttpRequest, item_id: int, change, success: str, *, fields: tuple[str, ...]
) -> HttpResponse:
    """Run a lead's audited change; say what went wrong or that it is done, back on the item.

    ``fields``: the POST fields the change reads, refused when they hold control characters.
    """
    typed = control_character_error(request.POST, fields)
    if typed:
        messages.error(request, typed)
        return redirect("adjudication:item", item_id=item_id)
    try:
        change()
    except ApplicationError as error:
        not_found_as_404(error)
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect("adjudication:item", item_id=item_id)


@require_POST
@safety_lead_required
def observation_correct(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Settle or correct what the model did and what the user was served (audited)."""
    _get_item_for_lead(request, item_id)
    return _audited_change(
        request,
        item_id,
        lambda: review_services.observation_correct(
            actor=request.user,
            item_id=item_id,
            observed_label=request.POST.get("observed_label", ""),
            observed_served_label=request.POST.get("observed_served_label", ""),
            reason=request.POST.get("reason", ""),
        ),
        "What happened is recorded; the change is in the audit log.",
        fields=("observed_label", "observed_served_label", "reason"),
    )


@require_GET
@vary_on_headers("HX-Request")
@safety_lead_required
def agreement(request: HtmxHttpRequest) -> HttpResponse:
    rounds = list(AuditRound.objects.order_by("-created_at").values("pk", "name"))
    round_id = request.GET.get("round", "")
    selected = int(round_id) if round_id.isdigit() else None
    report = agreement_report(round_id=selected)
    return render(
        request,
        "reviewapp/adjudication/agreement.html",
        {
            "report": report,
            "overall_rows": [report.overall],
            "rounds": rounds,
            "selected": selected,
        },
    )


@require_POST
@safety_lead_required
def adjudication_comment(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """A lead's line in the item's thread."""
    _get_item_for_lead(request, item_id)
    form = comment_post(request, item_id)
    if form is None:
        return redirect(reverse("adjudication:item", args=[item_id]) + "#comments")
    return _detail_page(request, item_id, comment_form=form)
