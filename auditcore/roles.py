"""The roles, as Django groups, and what each may do."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

REVIEWER = "reviewer"
SAFETY_LEAD = "safety_lead"
ADMIN = "admin"
# Reads the results (dashboard, trends, gate decisions) and changes nothing.
VIEWER = "viewer"
ROLES = (REVIEWER, SAFETY_LEAD, ADMIN, VIEWER)

User = AbstractBaseUser | AnonymousUser


def user_roles(user: User) -> frozenset[str]:
    """The user's role names, cached on the user object for the request."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_audit_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._audit_roles = cached
    return cached


def is_admin(user: User) -> bool:
    return ADMIN in user_roles(user)


def is_safety_lead(user: User) -> bool:
    """Safety leads, and admins, who may do everything a safety lead does."""
    return bool(user_roles(user) & {SAFETY_LEAD, ADMIN})


def may_read_results(user: User) -> bool:
    """The dashboard, its trends and the gate decisions, read-only: viewers and safety leads."""
    return bool(user_roles(user) & {VIEWER, SAFETY_LEAD, ADMIN})


def is_reviewer(user: User) -> bool:
    return bool(user_roles(user) & {REVIEWER, ADMIN})
