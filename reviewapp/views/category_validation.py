"""Safety leads: the category classifier's validation from reviewers' "wrong category" flags."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from auditcore.selectors.review import category_flag_validation
from reviewapp.access import safety_lead_required


@require_GET
@safety_lead_required
def category_validation(request: HttpRequest) -> HttpResponse:
    context = {"validation": category_flag_validation()}
    return render(request, "reviewapp/adjudication/category_validation.html", context)
