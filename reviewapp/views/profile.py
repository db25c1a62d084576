"""The user's profile: API tokens, created (the secret shown once) and revoked."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from auditcore.exceptions import ApplicationError
from auditcore.models import ApiToken
from auditcore.services.tokens import api_token_create, api_token_revoke
from reviewapp.forms import control_character_error
from reviewapp.http import HtmxHttpRequest

TEMPLATE = "reviewapp/profile/profile.html"


def _tokens(request: HtmxHttpRequest):
    return ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk")


def _render(request: HtmxHttpRequest, context: dict | None = None, status: int = 200):
    context = {"tokens": _tokens(request), **(context or {})}
    template = f"{TEMPLATE}#tokens" if request.htmx else TEMPLATE
    return render(request, template, context, status=status)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def profile(request: HtmxHttpRequest) -> HttpResponse:
    return _render(request)


@require_POST
@login_required
@never_cache
def token_create(request: HtmxHttpRequest) -> HttpResponse:
    """The secret is in this one answer only; it is never stored and never shown again."""
    typed = control_character_error(request.POST, ("name",))
    if typed:
        return _render(request, {"error": typed}, status=400)
    try:
        token, secret = api_token_create(user=request.user, name=request.POST.get("name", "")[:100])
    except ApplicationError as exc:
        return _render(request, {"error": exc.message}, status=400)
    return _render(request, {"new_token": token, "secret": secret})


@require_POST
@login_required
def token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    try:
        api_token_revoke(user=request.user, token_id=pk)
    except ApplicationError:
        # Someone else's token, or one already revoked: nothing of theirs is touched or shown.
        return _render(request, {"error": "No such active token of yours."}, status=404)
    if request.htmx:
        return _render(request)
    return redirect("profile:index")
