"""Role checks for views: anonymous users go to the login page, others without the role get 403."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from auditcore import roles

View = Callable[..., HttpResponse]


def role_required(check: Callable[..., bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


reviewer_required = role_required(roles.is_reviewer)
safety_lead_required = role_required(roles.is_safety_lead)
results_reader_required = role_required(roles.may_read_results)
admin_required = role_required(roles.is_admin)
