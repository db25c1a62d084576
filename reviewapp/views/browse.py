"""The safety leads' browser over all stored interactions: full-text search over prompts,
filters at both layers and on the drawn items, sorting, pages, and one interaction's items and
verdicts."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from auditcore.selectors.browse import (
    PAGE_SIZE,
    BrowseFilters,
    browse_interactions,
    drawn_items,
    interaction_detail,
    interactions_awaiting_search_index,
)
from reviewapp.access import safety_lead_required
from reviewapp.forms import BrowseForm
from reviewapp.http import HtmxHttpRequest


@require_GET
@safety_lead_required
def browse(request: HtmxHttpRequest) -> HttpResponse:
    form = BrowseForm(request.GET or None)
    filters = form.filters() if form.is_bound and form.is_valid() else BrowseFilters()
    page = Paginator(browse_interactions(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    items = drawn_items(row.pk for row in page.object_list)
    rows = [(row, items.get(row.pk, [])) for row in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        # Only where it matters: a search, which reads those rows' prompts instead.
        "awaiting_index": interactions_awaiting_search_index() if filters.q else 0,
    }
    return render(request, "reviewapp/browse/browse.html", context)


@require_GET
@safety_lead_required
def browse_interaction(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    detail = interaction_detail(pk)
    if detail is None:
        raise Http404("No such interaction.")
    items = [(item, detail.verdicts.get(item.pk, [])) for item in detail.items]
    context = {"interaction": detail.interaction, "items": items}
    return render(request, "reviewapp/browse/interaction.html", context)
