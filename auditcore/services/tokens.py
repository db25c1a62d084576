"""Creating, checking and revoking API tokens; only a hash of each token is stored."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from auditcore.exceptions import NOT_FOUND, ApplicationError
from auditcore.models import ApiToken
from auditcore.services.audit import audit_event_record

TOKEN_PREFIX = "ra_"  # noqa: S105 - a public prefix, not a secret


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Return the token row and the secret, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ApplicationError("name must not be empty", {"field": "name"})
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=key[:10], key_hash=_hash(key))
    token.full_clean()
    token.save()
    audit_event_record(actor=user, action="api_token.create", obj=token, after={"name": name})
    return token, key


def api_token_authenticate(*, key: str):
    """The active user a token belongs to, or None; records when the token was last used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> None:
    token = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).first()
    if token is None:
        raise ApplicationError("no such active token", {"field": "token", "code": NOT_FOUND})
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_event_record(actor=user, action="api_token.revoke", obj=token)
