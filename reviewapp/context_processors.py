"""Template context: which areas the current user may open (the nav reads it)."""

from django.http import HttpRequest

from auditcore import roles


def role_flags(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "is_reviewer": roles.is_reviewer(user),
        "is_safety_lead": roles.is_safety_lead(user),
        "is_admin": roles.is_admin(user),
        "may_read_results": roles.may_read_results(user),
    }
