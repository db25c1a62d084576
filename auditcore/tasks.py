"""Celery tasks: the only module that knows Celery. A task takes ids, loads, calls a service."""

from celery import current_app, shared_task
from celery.exceptions import CeleryError
from celery.exceptions import TimeoutError as ResultTimeout
from kombu.exceptions import KombuError


@shared_task(name="auditcore.ping")
def ping() -> str:
    return "pong"


def broker_check(timeout: float) -> tuple[bool, str]:
    """Open a connection to the broker, failing fast instead of retrying forever."""
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except (OSError, KombuError, CeleryError) as exc:
        return False, f"broker unreachable: {exc.__class__.__name__}"
    return True, "ok"


def worker_check(timeout: float) -> tuple[bool, str]:
    """A real round trip: a task through the broker to a worker and its result back."""
    try:
        result = ping.apply_async(retry=False, expires=timeout * 2)
    except (OSError, KombuError, CeleryError) as exc:
        return False, f"could not send to the broker: {exc.__class__.__name__}"
    try:
        answer = result.get(timeout=timeout)
    except ResultTimeout:
        return False, f"no worker answered within {timeout:g}s"
    except (OSError, KombuError, CeleryError) as exc:
        return False, f"worker round trip failed: {exc.__class__.__name__}"
    result.forget()
    if answer != "pong":
        return False, f"unexpected answer {answer!r}"
    return True, "ok"
