"""Writes to the audit log: every service that changes labels, policy or rounds calls it."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from auditcore.models import AuditEvent


def audit_event_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
    )
    event.full_clean()
    event.save()
    return event
