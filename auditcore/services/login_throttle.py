"""The login throttle: too many failed logins lock a username, or a whole address, for a while.

Counted in the database (shared by every web process, and working while Redis is down). Two
counts run side by side:

- per username from one address: after LOGIN_THROTTLE_FAILURES failures within
  LOGIN_THROTTLE_WINDOW_SECONDS, that username is refused from that address;
- per address, whatever the usernames: after LOGIN_THROTTLE_ADDRESS_FAILURES failures, every
  login from that address is refused, so guessing across many names is as slow as on one.

Both locks last LOGIN_THROTTLE_LOCK_SECONDS, right password or not; the four settings and their
defaults are in reviewapp/settings.py. Usernames are counted by their comparison key (NFKC,
case-folded), the same folding the login form and user creation apply, so a full-width or
mathematical-bold spelling is the same person. A successful login clears its username's count,
never the address's (one known account must not reset a guesser).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from auditcore.models import LoginThrottle
from auditcore.services.users import username_key

# The row counting an address's failures over all usernames; no username folds to "".
ADDRESS_ROW = ""


@dataclass(frozen=True)
class ThrottleState:
    locked_until: datetime | None
    failures: int
    # "username" or "address": which count locked, so the page can say which.
    scope: str = "username"

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def _window_and_lock() -> tuple[timedelta, timedelta]:
    return (
        timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS),
        timedelta(seconds=settings.LOGIN_THROTTLE_LOCK_SECONDS),
    )


def _address(ip: str) -> str:
    return (ip or "unknown")[:64]


def _name(username: str) -> str:
    # A control character can be submitted but never stored (PostgreSQL refuses NUL); such a
    # name cannot log in, and its failures still count for the address.
    return "".join(c for c in username_key(username) if c.isprintable() or c == " ")[:150]


def _state(name: str, address: str, scope: str) -> ThrottleState:
    row = LoginThrottle.objects.filter(username=name, ip=address).first()
    if row is None:
        return ThrottleState(None, 0, scope)
    now = timezone.now()
    locked = row.locked_until if row.locked_until and row.locked_until > now else None
    return ThrottleState(locked, row.failures, scope)


def login_throttle_state(*, username: str, ip: str) -> ThrottleState:
    """Whether logins for this username from this address are locked right now."""
    address = _address(ip)
    by_address = _state(ADDRESS_ROW, address, "address")
    if by_address.locked:
        return by_address
    name = _name(username)
    return _state(name, address, "username") if name else by_address


def _count_failure(name: str, address: str, limit: int, now: datetime) -> LoginThrottle:
    window, lock = _window_and_lock()
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
    # The address row's username is the empty ADDRESS_ROW on purpose.
    row.full_clean(exclude=["username"])
    row.save()
    return row


@transaction.atomic
def login_failure_record(*, username: str, ip: str) -> ThrottleState:
    """Count one failed login for the username and for the address; lock what reached its limit."""
    now = timezone.now()
    address = _address(ip)
    by_address = _count_failure(
        ADDRESS_ROW,
        address,
        settings.LOGIN_THROTTLE_ADDRESS_FAILURES,
        now,
    )
    name = _name(username)
    if name:
        row = _count_failure(name, address, settings.LOGIN_THROTTLE_FAILURES, now)
        if row.locked_until:
            return ThrottleState(row.locked_until, row.failures, "username")
    return ThrottleState(by_address.locked_until, by_address.failures, "address")


@transaction.atomic
def login_success_record(*, username: str, ip: str) -> None:
    LoginThrottle.objects.filter(username=_name(username), ip=_address(ip)).exclude(
        username=ADDRESS_ROW
    ).delete()
