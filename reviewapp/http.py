"""What every view shares: the request type with django-htmx's `request.htmx`, the 404 rule."""

from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from auditcore.exceptions import NOT_FOUND, ApplicationError


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def not_found_as_404(error: ApplicationError) -> None:
    """A service's "no such object" is the page's 404, as `get_object_or_404` answers."""
    if error.code == NOT_FOUND:
        raise Http404(error.message) from error
