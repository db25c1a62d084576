"""On PostgreSQL, 20 reviewers draining a round at once: exact verdict counts, none lost or doubled.

Each thread has its own database connection, so leases really race through SELECT … FOR UPDATE
SKIP LOCKED. Runs in CI (PostgreSQL); skipped on SQLite where writes are serial anyway.
"""

import random
import threading
from collections import Counter

import pytest
from django.db import connections

from auditcore import roles
from auditcore.models import Lease, RoundItem, Verdict
from auditcore.services import review as svc
from auditcore.services.users import user_create
from tests.auditcore.test_review_support import make_round
from tests.conftest import require_services

REVIEWERS = 20
ITEMS = 90
CODES = {"help": "general_info", "decline": "personal_dosing"}


def _drain(user, seed: int, errors: list, done: Counter, lock: threading.Lock) -> None:
    rng = random.Random(seed)
    try:
        while True:
            lease = svc.lease_take_next(reviewer=user)
            if lease is None:
                break
            decision = rng.choice(["help", "decline"])
            # A double submit, as from a double click: it must not create two verdicts.
            for _ in range(2):
                svc.verdict_submit(
                    reviewer=user,
                    item_id=lease.item_id,
                    decision=decision,
                    reason_code=CODES[decision],
                )
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
    users = [
        user_create(username=f"reviewer{i:02d}", role=roles.REVIEWER, password="x" * 12)
        for i in range(REVIEWERS)
    ]
    errors: list[str] = []
    done: Counter = Counter()
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_drain, args=(user, i, errors, done, lock))
        for i, user in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
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
