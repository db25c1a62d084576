"""The home page: each role is sent to what it can do."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from auditcore.selectors.overview import overview_counts
from reviewapp.http import HtmxHttpRequest


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "reviewapp/home/home.html", {"counts": overview_counts()})
