"""Response rules for every answer: no caching for signed-in users, control characters shown.

Answers to signed-in users are never stored by a browser or proxy cache.

Prompts and responses are hostile, often personal text, and they appear on most pages, in HTMX
partials, downloads and API answers; a page that holds none today may hold some tomorrow, so
the rule covers every answer to a signed-in user (and every API answer, authenticated by token
inside the view) instead of a hand-kept list of views. Static files are answered by WhiteNoise
before this runs and stay cacheable.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

from reviewapp.templatetags.textsafety import mark_controls_in_html

API_PREFIX = "/api/"


def no_store_for_users(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith(API_PREFIX):
            add_never_cache_headers(response)
        return response

    return middleware


def mark_control_characters(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Bidi controls and zero-width characters left in a page's text become visible markers."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        if response.streaming or not response.get("Content-Type", "").startswith("text/html"):
            return response
        charset = response.charset or "utf-8"
        html = response.content.decode(charset, errors="replace")
        marked = mark_controls_in_html(html)
        if marked is not html:
            response.content = marked.encode(charset)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response

    return middleware


ADMIN_PREFIX = "/admin/"
# The throttled login page stays open to everyone: one may sign in there as a staff account.
ADMIN_LOGIN = "/admin/login/"


def admin_for_staff_only(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """A signed-in user without staff status gets the app's 403 page at /admin/.

    Django's admin would send them to its login page, which (already signed in) sends them back:
    a redirect loop instead of an answer.
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if (
            request.path.startswith(ADMIN_PREFIX)
            and request.path != ADMIN_LOGIN
            and user is not None
            and user.is_authenticated
            and not user.is_staff
        ):
            raise PermissionDenied("The Django admin is for staff accounts.")
        return get_response(request)

    return middleware
