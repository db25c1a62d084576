"""API permissions: the same role checks as the pages."""

from rest_framework.permissions import BasePermission

from auditcore import roles


class IsReviewer(BasePermission):
    def has_permission(self, request, view) -> bool:
        return roles.is_reviewer(request.user)


class IsSafetyLead(BasePermission):
    def has_permission(self, request, view) -> bool:
        return roles.is_safety_lead(request.user)


class MayReadResults(BasePermission):
    """Viewers, safety leads and admins: the dashboard's figures and gate decisions."""

    def has_permission(self, request, view) -> bool:
        return roles.may_read_results(request.user)


class IsAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        return roles.is_admin(request.user)
