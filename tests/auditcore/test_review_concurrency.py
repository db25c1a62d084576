"""On PostgreSQL, 20 reviewers draining a round at once: exact verdict counts, none lost or doubled.

Each thread has its own database connection, so leases really race through SELECT … FOR UPDATE
SKIP LOCKED. Runs in CI (PostgreSQL); skipped on SQLite where writes are serial anyway.
"""

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from auditcore.exceptions import ApplicationError
from auditcore.models import Lease, RoundItem, Verdict
from auditcore.services import review as svc
from tests.conftest import require_services
from tests.factories import ReviewerFactory
from tests.support.planner import assert_unanalysed
from tests.support.review_round import make_round

REVIEWERS = 20
ITEMS = 90
CODES = {"help": "general_info", "decline": "personal_dosing"}


def _reviewers(prefix: str) -> list:
    return [ReviewerFactory(username=f"{prefix}{i:02d}") for i in range(REVIEWERS)]


def _run_all(threads) -> None:
    threads = list(threads)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)


def _drain(user, seed: int, errors: list, done: Counter, lock: threading.Lock) -> None:
    rng = random.Random(seed)
    try:
        while True:
            lease = svc.lease_take_next(reviewer=user)
            if lease is None:
                break
            decision = rng.choice(["help", "decline"])
            # A double submit, as from a double click: the second is refused, never saved.
            for attempt in range(2):
                try:
                    svc.verdict_submit(
                        reviewer=user,
                        item_id=lease.item_id,
                        decision=decision,
                        reason_code=CODES[decision],
                    )
                except ApplicationError as error:
                    if attempt == 0 or error.extra["code"] != svc.ALREADY_LOCKED:
                        raise
                else:
                    if attempt == 1:
                        raise AssertionError("a second verdict on one item was accepted")
            with lock:
                done[user.username] += 1
    except Exception as error:  # every failure is reported by the test
        errors.append(repr(error))
    finally:
        connections.close_all()


@pytest.mark.services
def test_twenty_concurrent_reviewers_give_every_item_exactly_its_verdicts(transactional_db):
    require_services()
    audit_round = make_round(items=ITEMS, required_reviews=1)
    # Every third item is reviewed twice, as with the round's double-review share.
    doubled = list(audit_round.items.order_by("queue_order").values_list("pk", flat=True))[::3]
    RoundItem.objects.filter(pk__in=doubled).update(required_reviews=2)
    errors: list[str] = []
    done: Counter = Counter()
    lock = threading.Lock()
    _run_all(
        threading.Thread(target=_drain, args=(user, i, errors, done, lock))
        for i, user in enumerate(_reviewers("reviewer"))
    )
    assert errors == []

    expected = ITEMS + len(doubled)
    assert Verdict.objects.count() == expected == sum(done.values())
    for item in RoundItem.objects.filter(round=audit_round):
        verdicts = list(Verdict.objects.filter(item=item).values_list("reviewer_id", flat=True))
        assert len(verdicts) == item.required_reviews == item.verdict_count, item.pk
        assert len(set(verdicts)) == len(verdicts), f"item {item.pk} reviewed twice by one person"
        assert item.status in {RoundItem.Status.DONE, RoundItem.Status.ADJUDICATION}
    assert not Lease.objects.exists()
    # The work was shared, not done by one thread holding everything.
    assert len(done) > 1


CLAIM_ITEMS = 400


def _claim_until_empty(user, log: list, errors: list, lock: threading.Lock) -> None:
    """Claim and judge until told the queue is empty; log (start, end, item or None)."""
    try:
        while True:
            started = time.monotonic()
            lease = svc.lease_take_next(reviewer=user)
            ended = time.monotonic()
            with lock:
                log.append((started, ended, lease.item_id if lease else None))
            if lease is None:
                break
            svc.verdict_submit(
                reviewer=user, item_id=lease.item_id, decision="help", reason_code="general_info"
            )
    except Exception as error:  # every failure is reported by the test
        errors.append(repr(error))
    finally:
        connections.close_all()


@pytest.mark.services
def test_twenty_concurrent_claims_on_an_unanalysed_database_never_answer_empty_too_early(
    transactional_db,
):
    require_services()
    audit_round = make_round(items=CLAIM_ITEMS, required_reviews=1)
    assert_unanalysed(RoundItem, Lease, Verdict)
    log: list[tuple[float, float, int | None]] = []
    errors: list[str] = []
    lock = threading.Lock()
    _run_all(
        threading.Thread(target=_claim_until_empty, args=(user, log, errors, lock))
        for user in _reviewers("claimer")
    )
    assert errors == []

    handed = [item for _, _, item in log if item is not None]
    # Every item was handed out, and none twice.
    assert sorted(handed) == sorted(audit_round.items.values_list("pk", flat=True))
    # Every item needs one verdict and all reviewers are alike, so an item whose claim began
    # after some reviewer heard "empty" was free when they heard it: that answer was wrong.
    first_empty = min(ended for _, ended, item in log if item is None)
    late = [item for started, _, item in log if item is not None and started > first_empty]
    assert late == [], f"{len(late)} items were handed out after a reviewer was told 'empty'"
    assert sum(item is None for _, _, item in log) == REVIEWERS


def _hold_rows_then_lease(round_id: int, holder, leases: int, locked: threading.Event) -> None:
    """Another reviewer's claim in flight: lock every item row, then lease the first few."""
    try:
        with transaction.atomic():
            items = list(
                RoundItem.objects.select_for_update()
                .filter(round_id=round_id)
                .order_by("queue_order")
            )
            locked.set()
            time.sleep(0.5)
            now = timezone.now()
            for item in items[:leases]:
                Lease.objects.create(
                    item=item, reviewer=holder, taken_at=now, expires_at=now + timedelta(minutes=5)
                )
    finally:
        connections.close_all()


@pytest.mark.services
@pytest.mark.parametrize(("leased_by_other", "expected"), [(2, 2), (3, None)])
def test_a_claim_waits_for_rows_other_claims_hold_before_answering_empty(
    transactional_db, reviewer, second_reviewer, leased_by_other, expected
):
    require_services()
    audit_round = make_round(items=3, required_reviews=1)
    items = list(audit_round.items.order_by("queue_order").values_list("pk", flat=True))
    locked = threading.Event()
    holder = threading.Thread(
        target=_hold_rows_then_lease,
        args=(audit_round.pk, second_reviewer, leased_by_other, locked),
    )
    holder.start()
    assert locked.wait(10)
    # Every row is locked: SKIP LOCKED alone sees nothing, yet three items wait.
    lease = svc.lease_take_next(reviewer=reviewer)
    holder.join(10)
    if expected is None:
        assert lease is None
    else:
        assert lease is not None and lease.item_id == items[expected]
