"""Creating users with exactly one role."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from auditcore import roles
from auditcore.exceptions import ApplicationError
from auditcore.services.audit import audit_event_record


@transaction.atomic
def user_create(*, username: str, role: str, password: str, email: str = "", actor=None):
    if role not in roles.ROLES:
        raise ApplicationError(
            f"role must be one of {', '.join(roles.ROLES)}", {"field": "role", "value": role}
        )
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ApplicationError(f"a user named {username!r} already exists", {"field": "username"})
    user = user_model(username=username, email=email, is_staff=(role == roles.ADMIN))
    try:
        user.full_clean(exclude=["password"])
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError("; ".join(exc.messages), {"field": "password"}) from exc
    user.set_password(password)
    user.is_superuser = role == roles.ADMIN
    user.save()
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    audit_event_record(actor=actor, action="user.create", obj=user, after={"role": role})
    return user
