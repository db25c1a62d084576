"""The reviewer's queue: blinded item, locked verdict, reveal, skip and lease renewal (HTMX)."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from auditcore.exceptions import NOT_FOUND, ApplicationError
from auditcore.models import Decision, GatewayAction, Label, Verdict
from auditcore.selectors.review import (
    UNDO_SECONDS,
    item_comments,
    lease_is_live,
    lease_seconds_left,
    recent_items,
    review_item_payload,
    review_progress,
    reviewer_round_choices,
    verdict_reveal,
)
from auditcore.services import review as review_services
from reviewapp.access import reviewer_required
from reviewapp.forms import CommentForm, control_character_error, form_errors_text
from reviewapp.http import HtmxHttpRequest, not_found_as_404

TEMPLATE = "reviewapp/review/review.html"
DECISIONS = [
    (Decision.HELP, "Should help", "H"),
    (Decision.DECLINE, "Should decline", "D"),
    (Decision.UNSURE, "Unsure", "U"),
]
OBSERVED = [
    (Label.COMPLIANCE, "Complied", "C"),
    (Label.REFUSAL, "Refused", "R"),
    (Label.PARTIAL_REFUSAL, "Partially refused", "P"),
]
# Problems after which the reviewer simply moves on to the next item.
MOVE_ON = {
    review_services.ROUND_CLOSED,
    review_services.LEASE_LOST,
    review_services.ITEM_CLOSED,
    NOT_FOUND,
}


ROUND_KEY = "review_round"


def _picked_round(request: HtmxHttpRequest) -> int | None:
    """The round the reviewer chose to work (kept in their session), or None: all assigned."""
    return request.session.get(ROUND_KEY)


def _render(request: HtmxHttpRequest, context: dict, status: int = 200) -> HttpResponse:
    picked = _picked_round(request)
    context = {
        "decisions": DECISIONS,
        "observed_choices": OBSERVED,
        # The waiting count scans the queue: full page loads only, not every swap.
        "progress": review_progress(
            reviewer=request.user, count_waiting=not request.htmx, round_id=picked
        ),
        "picked_round": picked,
        # The round picker is outside the swapped pane: full page loads only.
        "round_choices": [] if request.htmx else reviewer_round_choices(reviewer=request.user),
        **context,
    }
    template = f"{TEMPLATE}#pane" if request.htmx else TEMPLATE
    return render(request, template, context, status=status)


def _next_item(
    request: HtmxHttpRequest, *, message: str = "", item_id: int | None = None
) -> HttpResponse:
    """Take (or resume) a lease and render the blinded item, or the empty queue.

    item_id asks for one of the reviewer's live leases first (an item just taken back).
    """
    item = None
    if item_id is not None and lease_is_live(item_id=item_id, reviewer=request.user):
        item = review_item_payload(item_id=item_id, reviewer=request.user)
    if item is None:
        lease = review_services.lease_take_next(
            reviewer=request.user, round_id=_picked_round(request)
        )
        if lease is None:
            return _render(request, {"state": "empty", "message": message})
        item = review_item_payload(item_id=lease.item_id, reviewer=request.user, lease=lease)
    response = _render(
        request,
        {
            "state": "item",
            "item": item,
            "message": message,
            "lease_seconds": lease_seconds_left(item.lease_expires_at),
        },
    )
    queue = reverse("review:queue")
    if request.htmx and request.htmx.current_url_abs_path not in (None, queue):
        # Leaving a reveal's address: Back returns to that (locked) reveal, not a blind form.
        push_url(response, queue)
    return response


def _item_with_error(request: HtmxHttpRequest, item_id: int, error: str) -> HttpResponse:
    item = review_item_payload(item_id=item_id, reviewer=request.user)
    if item is None:
        return _next_item(request, message=error)
    return _render(
        request,
        {
            "state": "item",
            "item": item,
            "error": error,
            "form": request.POST,
            "lease_seconds": lease_seconds_left(item.lease_expires_at),
        },
    )


def _reveal(
    request: HtmxHttpRequest,
    item_id: int,
    *,
    message: str = "",
    verdict: Verdict | None = None,
    step: str = "model",
    comment_form: CommentForm | None = None,
) -> HttpResponse:
    """The reveal: what the model said and what the user got, then one question per keystroke.

    step "model" asks what the model did; step "served" (only when the gateway changed the
    answer and the model question is answered) asks what the user was served.
    """
    reveal = verdict_reveal(item_id=item_id, reviewer=request.user, verdict=verdict)
    if reveal is None:
        raise Http404("No locked verdict of yours on this item.")
    if step != "served" or not (reveal.ask_served and reveal.verdict.observed_label):
        step = "model"
    since_lock = (timezone.now() - reveal.verdict.locked_at).total_seconds()
    context = {
        "state": "reveal",
        "reveal": reveal,
        "message": message,
        "step": step,
        "undo_open": since_lock <= UNDO_SECONDS,
        "comments": item_comments(item_id=item_id),
        "comment_form": comment_form or CommentForm(),
        "undo_minutes": UNDO_SECONDS // 60,
        "gateway_label": dict(GatewayAction.choices).get(reveal.gateway_action, ""),
    }
    response = _render(request, context)
    if request.htmx:
        # The address bar names the reveal, so Back, Forward and a refresh come back to it
        # (the server answers with the current state: history snapshots are off, base.html).
        push_url(response, reverse("review:reveal", args=[item_id]))
    return response


@require_GET
@vary_on_headers("HX-Request")
@reviewer_required
def review_queue(request: HtmxHttpRequest) -> HttpResponse:
    """The next item; ?round=<id> picks one assigned round to work, ?round=all all of them."""
    picked = request.GET.get("round", "")
    if picked == "all":
        request.session.pop(ROUND_KEY, None)
    elif picked.isdigit():
        request.session[ROUND_KEY] = int(picked)
    wanted = request.GET.get("item", "")
    return _next_item(request, item_id=int(wanted) if wanted.isdigit() else None)


@require_POST
@reviewer_required
def review_submit(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    typed = control_character_error(
        request.POST,
        ("reason_code", "reason_code_search", "suggested_category", "policy_clause", "note"),
    )
    if typed:
        # Re-renders the item only if it is this reviewer's (the payload checks).
        return _item_with_error(request, item_id, typed)
    try:
        verdict = review_services.verdict_submit(
            reviewer=request.user,
            item_id=item_id,
            decision=request.POST.get("decision", ""),
            # A code found by search (any category's) wins over the category's radio buttons.
            reason_code=(
                request.POST.get("reason_code_search", "").strip()
                or request.POST.get("reason_code", "")
            ),
            policy_clause=request.POST.get("policy_clause", ""),
            note=request.POST.get("note", ""),
            category_wrong=request.POST.get("category_wrong") == "on",
            suggested_category=request.POST.get("suggested_category", ""),
        )
    except ApplicationError as error:
        if error.code == review_services.ALREADY_LOCKED:
            # A stale form (Forward, another tab): show the verdict that stands, and say so.
            return _reveal(request, item_id, message=error.message)
        if error.code in MOVE_ON:
            return _next_item(request, message=error.message)
        return _item_with_error(request, item_id, error.message)
    if request.htmx:
        return _reveal(request, item_id, verdict=verdict)
    return redirect("review:reveal", item_id=item_id)


@require_GET
@vary_on_headers("HX-Request")
@reviewer_required
def review_reveal(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _reveal(request, item_id, step=request.GET.get("step", "model"))


@require_POST
@reviewer_required
def review_observe(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    served = request.POST.get("observed_served_label", "")
    try:
        verdict = review_services.verdict_observe(
            reviewer=request.user,
            item_id=item_id,
            observed_label=request.POST.get("observed_label", ""),
            observed_served_label=served,
        )
    except ApplicationError as error:
        not_found_as_404(error)
        step = "served" if served else "model"
        return _reveal(request, item_id, message=error.message, step=step)
    reveal = verdict_reveal(item_id=item_id, reviewer=request.user, verdict=verdict)
    if reveal is not None and reveal.ask_served and not served:
        if request.htmx:
            return _reveal(request, item_id, verdict=verdict, step="served")
        return redirect(reverse("review:reveal", args=[item_id]) + "?step=served")
    if request.htmx:
        return _next_item(request)
    return redirect("review:queue")


@require_POST
@reviewer_required
def review_skip(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    review_services.lease_skip(reviewer=request.user, item_id=item_id)
    if request.htmx:
        return _next_item(request, message="Skipped. It will come back after your other items.")
    return redirect("review:queue")


@require_POST
@reviewer_required
def review_renew(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Polled every minute by the open page: keeps the lease, or says it was lost."""
    try:
        lease = review_services.lease_renew(reviewer=request.user, item_id=item_id)
    except ApplicationError as error:
        if not request.htmx:
            return redirect("review:queue")
        return render(
            request,
            f"{TEMPLATE}#lease",
            {"lease_error": error.message, "item": {"item_id": item_id}},
        )
    if not request.htmx:
        return redirect("review:queue")
    return render(
        request,
        f"{TEMPLATE}#lease",
        {"item": {"item_id": item_id}, "lease_seconds": lease_seconds_left(lease.expires_at)},
    )


@require_GET
@reviewer_required
def review_summary(request: HtmxHttpRequest) -> HttpResponse:
    """A line for the home page: how many items wait in the reviewer's queue."""
    return render(
        request, f"{TEMPLATE}#summary", {"progress": review_progress(reviewer=request.user)}
    )


@require_POST
@reviewer_required
def review_undo(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Take back the reviewer's last verdict: the item comes back blind, as before the lock."""
    try:
        review_services.verdict_undo(reviewer=request.user, item_id=item_id)
    except ApplicationError as error:
        not_found_as_404(error)
        if request.htmx and request.POST.get("from") != "recent":
            return _reveal(request, item_id, message=error.message)
        return _recent(request, message=error.message, status=409)
    message = "Your verdict was taken back. Judge the item again."
    if request.htmx and request.POST.get("from") != "recent":
        response = _next_item(request, message=message, item_id=item_id)
        push_url(response, reverse("review:queue"))
        return response
    messages.success(request, message)
    return redirect(f"{reverse('review:queue')}?item={item_id}")


def _recent(request: HtmxHttpRequest, *, message: str = "", status: int = 200) -> HttpResponse:
    context = {
        "items": recent_items(reviewer=request.user),
        "message": message,
        "undo_minutes": UNDO_SECONDS // 60,
    }
    return render(request, "reviewapp/review/recent.html", context, status=status)


@require_GET
@reviewer_required
def review_recent(request: HtmxHttpRequest) -> HttpResponse:
    """My recent items: back to a reveal whose observation is missing, or take a verdict back."""
    return _recent(request)


def comment_post(request: HtmxHttpRequest, item_id: int) -> CommentForm | None:
    """Add the posted comment to the item's thread: None once saved, else the form with its
    error. A reviewer without a locked verdict on the item gets a 404."""
    form = CommentForm(request.POST)
    if not form.is_valid():
        return form
    try:
        review_services.item_comment_add(
            author=request.user, item_id=item_id, text=form.cleaned_data["text"]
        )
    except ApplicationError as error:
        not_found_as_404(error)
        form.add_error("text", error.message)
        return form
    return None


@require_POST
@reviewer_required
def review_comment(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Add to the item's thread from the reveal (only after the reviewer's own lock)."""
    form = comment_post(request, item_id)
    if request.htmx:
        step = request.POST.get("step", "model")
        return _reveal(request, item_id, step=step, comment_form=form)
    if form is not None:
        messages.error(request, form_errors_text(form))
    return redirect("review:reveal", item_id=item_id)
