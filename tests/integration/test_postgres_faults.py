"""PostgreSQL connections terminated under load: requests in flight fail cleanly, the app
reconnects by itself, and no verdict is half written.

A private gunicorn serves the test database while reviewer threads submit verdicts; the test
calls pg_terminate_backend on the app's backends (never restarting the shared cluster).
"""

import re
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.db.models import Count, F, Q

from auditcore.models import RoundItem, Verdict
from tests.conftest import require_services
from tests.factories import PASSWORD, ReviewerFactory
from tests.integration.live import AppServer, app_env
from tests.support.review_round import make_round

pytestmark = pytest.mark.services

REVIEWERS = 8
ITEMS = 400
LOAD_SECONDS = 9.0
FAULT_AT = (3.0, 3.6, 4.2)  # seconds into the load: three rounds of terminations
GRACE = 2.0  # a request may still fail this long after the last termination
ITEM_RE = re.compile(r"/review/items/(\d+)/verdict")


@dataclass
class Call:
    reviewer: str
    kind: str  # "get" or "submit"
    item_id: int | None
    start: float
    end: float
    status: int | None  # None: no answer (timeout or connection error)
    accepted: bool = False  # a submit answered with the redirect to the reveal
    error: str = ""  # why there was no answer


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "root"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def _reviewers() -> list[str]:
    """Reviewers whose password hash the app's real settings can check (tests use MD5)."""
    names = [f"load{i}" for i in range(REVIEWERS)]
    hasher = PBKDF2PasswordHasher()  # its default iterations: no re-hash on the first login
    for name in names:
        user = ReviewerFactory(username=name)
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])
    return names


def _terminate_app_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )
        return cursor.fetchone()[0]


def _log_in_all(server: AppServer, names: list[str]) -> dict[str, httpx.Client]:
    """Log every reviewer in at once (each login hashes a password for about a second)."""
    clients: dict[str, httpx.Client] = {}

    def log_in(name: str) -> None:
        clients[name] = server.client(name)

    threads = [threading.Thread(target=log_in, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(clients) == sorted(names), "a reviewer could not log in"
    return clients


def _reviewer_loop(
    server: AppServer, name: str, client: httpx.Client, t0: float, calls: list, lock
) -> None:
    token = client.cookies["csrftoken"]
    headers = {"X-CSRFToken": token, "Referer": f"{server.url}/review/"}
    deadline = t0 + LOAD_SECONDS
    while time.monotonic() < deadline:
        start = time.monotonic()
        error = ""
        try:
            response = client.get("/review/")
            status = response.status_code
        except httpx.HTTPError as exc:
            response, status, error = None, None, repr(exc)
        found = ITEM_RE.search(response.text) if response is not None and status == 200 else None
        with lock:
            calls.append(
                Call(name, "get", None, start - t0, time.monotonic() - t0, status, error=error)
            )
        if found is None:
            if response is not None and "Your queue is empty" in response.text:
                return
            time.sleep(0.05)
            continue
        item_id = int(found.group(1))
        start = time.monotonic()
        try:
            response = client.post(
                f"/review/items/{item_id}/verdict",
                data={
                    "decision": "help",
                    "reason_code": "general_info",
                    "csrfmiddlewaretoken": token,
                },
                headers=headers,
            )
            status = response.status_code
            accepted = status == 302 and "/reveal" in response.headers.get("Location", "")
        except httpx.HTTPError as exc:
            status, accepted, error = None, False, repr(exc)
        with lock:
            calls.append(
                Call(name, "submit", item_id, start - t0, time.monotonic() - t0, status, accepted,
                     error)
            )  # fmt: skip
    client.close()


def test_terminated_database_connections_fail_cleanly_and_the_app_recovers(
    transactional_db, tmp_path
):
    require_services()
    make_round(items=ITEMS, required_reviews=2)
    names = _reviewers()
    env = app_env(tmp_path, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL)
    server = AppServer(env, workers=2)
    server.start()
    calls: list[Call] = []
    lock = threading.Lock()
    terminated: list[tuple[float, int]] = []
    try:
        clients = _log_in_all(server, names)
        t0 = time.monotonic()
        threads = [
            threading.Thread(target=_reviewer_loop, args=(server, n, clients[n], t0, calls, lock))
            for n in names
        ]
        for thread in threads:
            thread.start()
        for at in FAULT_AT:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            terminated.append((time.monotonic() - t0, _terminate_app_backends()))
        for thread in threads:
            thread.join(timeout=LOAD_SECONDS + 30)
        assert not any(t.is_alive() for t in threads), "a reviewer thread hung"
        # Recovered: a fresh request after the load works.
        after = server.client(names[0]).get("/review/")
        assert after.status_code == 200
    finally:
        server.stop()

    first_fault, last_fault = terminated[0][0], terminated[-1][0]
    assert sum(n for _, n in terminated) >= 1, "no app backend was terminated"
    assert calls, "no requests were made"
    # No hang: every request was answered, and quickly.
    unanswered = [c for c in calls if c.status is None]
    assert not unanswered, f"requests without an answer: {unanswered[:5]}"
    assert max(c.end - c.start for c in calls) < 10
    # 500s only for requests that overlapped the fault window; nothing else failed.
    errors = [c for c in calls if c.status >= 500]
    outside = [c for c in errors if c.end < first_fault or c.start > last_fault + GRACE]
    assert not outside, (
        f"500s outside the fault window {first_fault:.2f}–{last_fault:.2f}s: {outside[:5]}"
    )
    assert all(c.status in (200, 302) for c in calls if c.status < 500)
    # Recovered: requests after the window succeed, and submits keep being accepted.
    late = [c for c in calls if c.start > last_fault + GRACE]
    assert late and all(c.status < 500 for c in late)
    assert (
        any(c.accepted for c in late)
        or not RoundItem.objects.filter(status=RoundItem.Status.PENDING).exists()
    )

    # No half-written verdicts.
    live = Q(verdicts__superseded=False, verdicts__policy_version=F("policy_version"))
    items = RoundItem.objects.annotate(n=Count("verdicts", filter=live))
    mismatched = list(items.exclude(verdict_count=F("n")).values("pk", "verdict_count", "n"))
    assert not mismatched, f"verdict_count disagrees with the stored verdicts: {mismatched[:5]}"
    assert not items.filter(n__gt=F("required_reviews")).exists()
    for item in items.filter(n__gte=F("required_reviews")):
        assert item.status != RoundItem.Status.PENDING, f"item {item.pk} complete but pending"
    stored = set(Verdict.objects.values_list("reviewer__username", "item_id"))
    accepted = {(c.reviewer, c.item_id) for c in calls if c.accepted}
    assert accepted, "no submit was accepted"
    assert accepted <= stored, (
        f"accepted submits without a verdict: {sorted(accepted - stored)[:5]}"
    )
    print(
        f"\n{len(calls)} requests, {len(accepted)} verdicts accepted, {len(errors)} 500s, "
        f"terminations at {[f'{t:.2f}s/{n}' for t, n in terminated]}"
    )
