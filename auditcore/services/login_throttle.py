"""The login throttle: too many failed logins for one username from one address lock it a while.

Counted in the database (shared by every web process, and working while Redis is down). After
LOGIN_THROTTLE_FAILURES failures within LOGIN_THROTTLE_WINDOW_SECONDS, further attempts for that
username from that address are refused for LOGIN_THROTTLE_LOCK_SECONDS, right password or not.
A successful login clears the count.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from auditcore.models import LoginThrottle

DEFAULT_FAILURES = 5
DEFAULT_WINDOW_SECONDS = 15 * 60
DEFAULT_LOCK_SECONDS = 15 * 60


@dataclass(frozen=True)
class ThrottleState:
    locked_until: datetime | None
    failures: int

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def _limits() -> tuple[int, timedelta, timedelta]:
    return (
        int(getattr(settings, "LOGIN_THROTTLE_FAILURES", DEFAULT_FAILURES)),
        timedelta(
            seconds=getattr(settings, "LOGIN_THROTTLE_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS)
        ),
        timedelta(seconds=getattr(settings, "LOGIN_THROTTLE_LOCK_SECONDS", DEFAULT_LOCK_SECONDS)),
    )


def _key(username: str, ip: str) -> tuple[str, str]:
    return username.strip().lower()[:150], (ip or "unknown")[:64]


def login_throttle_state(*, username: str, ip: str) -> ThrottleState:
    """Whether this username from this address is locked out right now."""
    name, address = _key(username, ip)
    row = LoginThrottle.objects.filter(username=name, ip=address).first()
    if row is None:
        return ThrottleState(None, 0)
    now = timezone.now()
    locked = row.locked_until if row.locked_until and row.locked_until > now else None
    return ThrottleState(locked, row.failures)


@transaction.atomic
def login_failure_record(*, username: str, ip: str) -> ThrottleState:
    """Count one failed login; lock the pair once the count reaches the limit."""
    limit, window, lock = _limits()
    name, address = _key(username, ip)
    now = timezone.now()
    try:
        with transaction.atomic():
            row, _ = LoginThrottle.objects.select_for_update().get_or_create(
                username=name, ip=address, defaults={"window_started_at": now}
            )
    except IntegrityError:  # a concurrent first failure created it
        row = LoginThrottle.objects.select_for_update().get(username=name, ip=address)
    if row.window_started_at + window < now and not (row.locked_until and row.locked_until > now):
        row.failures = 0
        row.window_started_at = now
        row.locked_until = None
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + lock
    row.full_clean()
    row.save()
    return ThrottleState(row.locked_until, row.failures)


@transaction.atomic
def login_success_record(*, username: str, ip: str) -> None:
    name, address = _key(username, ip)
    LoginThrottle.objects.filter(username=name, ip=address).delete()
