"""The safety leads' item browser: full-text search over prompts, filters, sorting, pages."""

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from auditcore.selectors.browse import PAGE_SIZE, BrowseFilters, browse_items
from reviewapp.access import safety_lead_required
from reviewapp.forms import BrowseForm
from reviewapp.http import HtmxHttpRequest


@require_GET
@safety_lead_required
def browse(request: HtmxHttpRequest) -> HttpResponse:
    form = BrowseForm(request.GET or None)
    filters = form.filters() if form.is_bound and form.is_valid() else BrowseFilters()
    page = Paginator(browse_items(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "reviewapp/browse/browse.html", context)
