"""/healthz: the database, the broker and a worker, as JSON; 503 when one is down."""

from dataclasses import asdict

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reviewapp.health import system_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    health = system_health(timeout=settings.HEALTH_TIMEOUT_SECONDS)
    body = {"ok": health.ok, **asdict(health)}
    return JsonResponse(body, status=200 if health.ok else 503)
