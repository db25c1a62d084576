"""The reviewer's queue: order, leases, overlap, skip, expiry, locked and idempotent verdicts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditRound, Lease, RoundItem, Verdict
from auditcore.selectors.review import review_progress, review_queue_size
from auditcore.services import review as svc
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


def submit(reviewer, item, decision="help", reason_code="general_info", **kw):
    return offered_verdict(
        reviewer=reviewer, item_id=item.pk, decision=decision, reason_code=reason_code, **kw
    )


def test_the_queue_hands_out_items_in_queue_order(reviewer):
    items = items_of(make_round(items=3))
    first = svc.lease_take_next(reviewer=reviewer)
    assert first.item_id == items[0].pk
    submit(reviewer, items[0])
    assert svc.lease_take_next(reviewer=reviewer).item_id == items[1].pk


def test_asking_again_resumes_the_same_lease_instead_of_taking_another(reviewer):
    make_round(items=3)
    first = svc.lease_take_next(reviewer=reviewer)
    again = svc.lease_take_next(reviewer=reviewer)
    assert again.pk == first.pk
    assert Lease.objects.filter(reviewer=reviewer).count() == 1


def test_a_lease_lasts_ten_minutes(reviewer):
    make_round(items=1)
    lease = svc.lease_take_next(reviewer=reviewer)
    assert timedelta(seconds=599) < lease.expires_at - lease.taken_at <= timedelta(seconds=600)


def test_a_single_review_item_held_by_one_reviewer_is_not_offered_to_another(
    reviewer, second_reviewer
):
    items = items_of(make_round(items=2))
    assert svc.lease_take_next(reviewer=reviewer).item_id == items[0].pk
    assert svc.lease_take_next(reviewer=second_reviewer).item_id == items[1].pk


def test_an_item_needing_two_verdicts_goes_to_two_different_reviewers(
    reviewer, second_reviewer, admin_user
):
    items = items_of(make_round(items=1, required_reviews=2))
    assert svc.lease_take_next(reviewer=reviewer).item_id == items[0].pk
    assert svc.lease_take_next(reviewer=second_reviewer).item_id == items[0].pk
    # Both slots are held: a third reviewer gets nothing.
    assert svc.lease_take_next(reviewer=admin_user) is None


def test_nobody_gets_the_same_item_twice(reviewer):
    items = items_of(make_round(items=1, required_reviews=2))
    submit(reviewer, items[0])
    assert svc.lease_take_next(reviewer=reviewer) is None
    assert review_queue_size(reviewer=reviewer) == 0


def test_an_expired_lease_frees_the_item_for_someone_else(reviewer, second_reviewer):
    items = items_of(make_round(items=1))
    svc.lease_take_next(reviewer=reviewer)
    assert svc.lease_take_next(reviewer=second_reviewer) is None
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert svc.lease_take_next(reviewer=second_reviewer).item_id == items[0].pk


def test_a_verdict_after_expiry_is_kept_while_the_item_still_has_room(reviewer):
    items = items_of(make_round(items=1))
    svc.lease_take_next(reviewer=reviewer)
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    verdict = submit(reviewer, items[0])
    assert verdict.pk and Verdict.objects.count() == 1


def test_a_verdict_after_expiry_is_refused_when_another_reviewer_took_the_item(
    reviewer, second_reviewer
):
    items = items_of(make_round(items=1))
    svc.lease_take_next(reviewer=reviewer)
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    svc.lease_take_next(reviewer=second_reviewer)
    with pytest.raises(ApplicationError) as caught:
        submit(reviewer, items[0])
    assert caught.value.extra["code"] == svc.LEASE_LOST
    assert "expired" in caught.value.message
    assert Verdict.objects.count() == 0


def test_skip_releases_the_lease_and_puts_the_item_at_the_back_of_my_queue(
    reviewer, second_reviewer
):
    items = items_of(make_round(items=2))
    svc.lease_take_next(reviewer=reviewer)
    svc.lease_skip(reviewer=reviewer, item_id=items[0].pk)
    assert svc.lease_take_next(reviewer=reviewer).item_id == items[1].pk
    # Another reviewer is not affected by my skip: the first item is free for them.
    assert svc.lease_take_next(reviewer=second_reviewer).item_id == items[0].pk


def test_a_skipped_item_comes_back_when_nothing_else_is_left(reviewer):
    items = items_of(make_round(items=1))
    svc.lease_take_next(reviewer=reviewer)
    svc.lease_skip(reviewer=reviewer, item_id=items[0].pk)
    lease = svc.lease_take_next(reviewer=reviewer)
    assert lease.item_id == items[0].pk
    assert lease.skipped_at is None


def test_items_of_closed_or_draft_rounds_are_not_offered(reviewer):
    make_round(items=1, status=AuditRound.Status.CLOSED)
    make_round(items=1, status=AuditRound.Status.DRAFT)
    assert svc.lease_take_next(reviewer=reviewer) is None


def test_a_verdict_locks_and_records_server_side_time_from_the_lease(reviewer):
    items = items_of(make_round(items=1))
    svc.lease_take_next(reviewer=reviewer)
    Lease.objects.update(taken_at=timezone.now() - timedelta(seconds=42))
    verdict = submit(reviewer, items[0], note="  plain  ", policy_clause="help when 1")
    assert 42 <= verdict.seconds_spent <= 44
    assert verdict.locked_at is not None
    assert verdict.note == "plain"
    assert verdict.policy_version_id == items[0].policy_version_id
    assert not Lease.objects.exists()


def test_submitting_twice_is_refused_and_keeps_the_first_verdict(reviewer):
    items = items_of(make_round(items=1, required_reviews=2))
    svc.lease_take_next(reviewer=reviewer)
    first = submit(reviewer, items[0], decision="help")
    with pytest.raises(ApplicationError) as caught:
        submit(reviewer, items[0], decision="decline")
    assert caught.value.extra == {
        "field": None,
        "code": svc.ALREADY_LOCKED,
        "verdict_id": first.pk,
    }
    assert "already locked (Should help)" in caught.value.message
    assert Verdict.objects.get().decision == "help"
    items[0].refresh_from_db()
    assert items[0].verdict_count == 1
    assert Verdict.objects.count() == 1


def test_a_verdict_on_a_round_closed_meanwhile_is_refused_clearly(reviewer):
    audit_round = make_round(items=1)
    svc.lease_take_next(reviewer=reviewer)
    AuditRound.objects.filter(pk=audit_round.pk).update(status=AuditRound.Status.CLOSED)
    with pytest.raises(ApplicationError) as caught:
        submit(reviewer, items_of(audit_round)[0])
    assert caught.value.extra["code"] == svc.ROUND_CLOSED
    assert "closed" in caught.value.message


def test_a_reason_code_is_required_for_help_or_decline_but_not_for_unsure(reviewer):
    items = items_of(make_round(items=2))
    svc.lease_take_next(reviewer=reviewer)
    with pytest.raises(ApplicationError, match="reason_code"):
        submit(reviewer, items[0], reason_code="")
    with pytest.raises(ApplicationError, match="not a reason code"):
        submit(reviewer, items[0], reason_code="made_up")
    assert submit(reviewer, items[0], decision="unsure", reason_code="").decision == "unsure"


def test_an_unknown_decision_is_refused(reviewer):
    items = items_of(make_round(items=1))
    svc.lease_take_next(reviewer=reviewer)
    with pytest.raises(ApplicationError, match="decision: must be one of"):
        submit(reviewer, items[0], decision="maybe")


def test_agreeing_verdicts_make_the_item_final(reviewer, second_reviewer):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    submit(reviewer, item, decision="decline", reason_code="personal_dosing")
    item.refresh_from_db()
    assert (item.status, item.final_decision) == ("pending", "")
    submit(second_reviewer, item, decision="decline", reason_code="self_harm_risk")
    item.refresh_from_db()
    assert (item.status, item.final_decision, item.verdict_count) == ("done", "decline", 2)


@pytest.mark.parametrize(
    ("first", "second"), [("help", "decline"), ("help", "unsure"), ("unsure", "unsure")]
)
def test_disagreement_or_unsure_sends_the_item_to_adjudication(
    reviewer, second_reviewer, first, second
):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    submit(reviewer, item, decision=first)
    submit(second_reviewer, item, decision=second)
    item.refresh_from_db()
    assert (item.status, item.final_decision) == ("adjudication", "")


def test_a_single_unsure_verdict_goes_to_adjudication(reviewer):
    item = items_of(make_round(items=1))[0]
    submit(reviewer, item, decision="unsure", reason_code="")
    item.refresh_from_db()
    assert item.status == RoundItem.Status.ADJUDICATION


def test_a_gold_item_takes_its_known_answer_as_final(reviewer):
    item = items_of(make_round(items=1, gold={0: "decline"}))[0]
    submit(reviewer, item, decision="help")
    item.refresh_from_db()
    assert (item.status, item.final_decision) == ("done", "decline")


def test_a_finished_item_refuses_more_verdicts(reviewer, second_reviewer):
    item = items_of(make_round(items=1))[0]
    submit(reviewer, item)
    with pytest.raises(ApplicationError) as caught:
        submit(second_reviewer, item)
    assert caught.value.extra["code"] == svc.ITEM_CLOSED


def test_the_observed_label_is_recorded_only_after_the_verdict(reviewer):
    item = items_of(make_round(items=1))[0]
    with pytest.raises(ApplicationError, match="lock your verdict"):
        svc.verdict_observe(reviewer=reviewer, item_id=item.pk, observed_label="refusal")
    submit(reviewer, item)
    verdict = svc.verdict_observe(reviewer=reviewer, item_id=item.pk, observed_label="refusal")
    assert verdict.observed_label == "refusal" and verdict.observed_at is not None
    with pytest.raises(ApplicationError, match="observed_label"):
        svc.verdict_observe(reviewer=reviewer, item_id=item.pk, observed_label="maybe")


def test_renewing_extends_the_lease_but_keeps_the_time_it_was_taken(reviewer):
    item = items_of(make_round(items=1))[0]
    lease = svc.lease_take_next(reviewer=reviewer)
    Lease.objects.update(expires_at=timezone.now() + timedelta(seconds=5))
    renewed = svc.lease_renew(reviewer=reviewer, item_id=item.pk)
    assert renewed.taken_at == lease.taken_at
    assert renewed.expires_at > timezone.now() + timedelta(seconds=590)


def test_renewing_a_lease_someone_else_took_after_expiry_says_it_was_lost(
    reviewer, second_reviewer
):
    item = items_of(make_round(items=1))[0]
    svc.lease_take_next(reviewer=reviewer)
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    svc.lease_take_next(reviewer=second_reviewer)
    with pytest.raises(ApplicationError) as caught:
        svc.lease_renew(reviewer=reviewer, item_id=item.pk)
    assert caught.value.extra["code"] == svc.LEASE_LOST


def test_progress_counts_todays_verdicts_and_what_waits(reviewer):
    items = items_of(make_round(items=3))
    submit(reviewer, items[0])
    progress = review_progress(reviewer=reviewer)
    assert (progress.done_today, progress.waiting) == (1, 2)


def test_a_new_policy_version_lets_the_same_reviewer_review_again(reviewer):
    from tests.factories import PolicyVersionFactory

    item = items_of(make_round(items=1, required_reviews=1))[0]
    submit(reviewer, item)
    newer = PolicyVersionFactory(number=2)
    RoundItem.objects.filter(pk=item.pk).update(
        policy_version=newer, status="pending", verdict_count=0
    )
    assert svc.lease_take_next(reviewer=reviewer).item_id == item.pk
