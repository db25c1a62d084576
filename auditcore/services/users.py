"""Creating users with exactly one role."""

import unicodedata

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from auditcore import roles
from auditcore.exceptions import ApplicationError
from auditcore.services.audit import audit_event_record


def username_key(username: str) -> str:
    """The comparison key of a username: NFKC, case-folded, NFKC again (Unicode's NFKC_Casefold
    in effect), stripped. Two names with one key are one person to logins and to user creation.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
    return folded.strip()


@transaction.atomic
def user_create(*, username: str, role: str, password: str, email: str = "", actor=None):
    if role not in roles.ROLES:
        raise ApplicationError(
            f"role must be one of {', '.join(roles.ROLES)}", {"field": "role", "value": role}
        )
    user_model = get_user_model()
    # Stored in NFKC (what the login form compares), and unique by key: "Bob", "ｂｏｂ" and
    # "𝐛𝐨𝐛" cannot be three accounts. The user table is small; the scan is exact for any script.
    username = unicodedata.normalize("NFKC", username).strip()
    key = username_key(username)
    if any(
        username_key(name) == key for name in user_model.objects.values_list("username", flat=True)
    ):
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
