"""Views that hand work to the Celery workers refuse quickly, with a clear banner, when the
broker (Redis) is down, instead of hanging while Celery retries the connection."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from auditcore import tasks

WORKERS_DOWN = (
    "The background workers cannot be reached right now (the task queue is down), so this "
    "cannot be started. Nothing was saved. Reviewing still works; try this again later."
)
BANNER_HEADER = "X-Banner"


def needs_workers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """On POST, check the broker first (briefly); answer 503 with a banner when it is down."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST" and not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            ok, _detail = tasks.broker_check(min(settings.HEALTH_TIMEOUT_SECONDS, 2.0))
            if not ok:
                if getattr(request, "htmx", False):
                    response = HttpResponse(WORKERS_DOWN, status=503, content_type="text/plain")
                else:
                    response = render(
                        request, "workers_down.html", {"message": WORKERS_DOWN}, status=503
                    )
                response[BANNER_HEADER] = "workers-down"
                return response
        return view(request, *args, **kwargs)

    return wrapper
