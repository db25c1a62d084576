"""Writes for blind review: leases, locked verdicts, the reveal answer, corrections, adjudication.

How items resolve (documented for safety leads): once an item has its required number of verdicts,
it is final automatically (status done) only when every verdict says *help* or every verdict says
*decline*. Any disagreement — including *unsure* next to anything, or only *unsure* — sends it to
adjudication: unsure means the reviewer could not decide, and a lead should. A gold item takes its
known answer as final; the reviewer's miss is listed for the leads.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from auditcore import roles
from auditcore.exceptions import INVALID, NOT_FOUND, ApplicationError
from auditcore.models import (
    Adjudication,
    AuditRound,
    Decision,
    Interaction,
    ItemComment,
    JudgedItem,
    Label,
    Lease,
    RoundItem,
    Verdict,
)
from auditcore.selectors.review import (
    UNDO_SECONDS,
    available_items,
    category_policy,
    claim_candidates,
    open_round_ids,
    policy_category_choices,
    policy_reason_codes,
    served_differs,
)
from auditcore.services.audit import audit_event_record

LEASE_SECONDS = 600
# How many candidates a claim tries before giving up on a crowded queue head. Each failed try
# means another reviewer took an item meanwhile, so this bounds a pathological race, not work.
CLAIM_ATTEMPTS = 200

# Codes in ApplicationError.extra["code"] beyond INVALID and NOT_FOUND (auditcore.exceptions),
# so the web layer can say what happened.
ROUND_CLOSED = "round_closed"
LEASE_LOST = "lease_lost"
ITEM_CLOSED = "item_closed"
QUEUE_BUSY = "queue_busy"
ALREADY_LOCKED = "already_locked"


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=LEASE_SECONDS)


def _pick(
    *, reviewer: AbstractBaseUser, now: datetime, skipped: bool, wait: bool, round_ids: list[int]
) -> RoundItem | None:
    """Lock the first available item row, open rounds oldest first, or None.

    PostgreSQL: FOR UPDATE SKIP LOCKED passes over rows other claims hold; with wait=True it
    queues behind the holder instead. SQLite: transactions begin IMMEDIATE (settings), so the
    whole claim runs alone and a plain read is exact.
    """
    for round_id in round_ids:
        ordered = claim_candidates(reviewer=reviewer, now=now, round_id=round_id, skipped=skipped)
        if connection.features.has_select_for_update_skip_locked:
            ordered = ordered.select_for_update(skip_locked=not wait, of=("self",)).only(
                "pk", "policy_version_id", "required_reviews", "verdict_count", "status"
            )
        candidate = ordered.first()
        if candidate is not None:
            return candidate
    return None


def claim_settings() -> None:
    """Session settings for the claim's transaction (PostgreSQL).

    After ANALYZE the planner prices the claim as a walk over the whole round (it cannot know
    the first rows already pass), which crosses jit_above_cost: compiling the query then took
    about a hundred times as long as running it. The claim reads a handful of rows, so no JIT.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _claim(*, reviewer: AbstractBaseUser, now: datetime, round_ids: list[int]) -> RoundItem | None:
    """Lock an item the reviewer may take; None only when a lock-blind read finds none.

    A locked row is invisible to SKIP LOCKED, so "nothing unlocked" is not "nothing left": every
    other reviewer may be holding the queue head for the few milliseconds of their own claim. So
    each candidate is checked by a fresh statement (which sees every lease committed meanwhile)
    inside a savepoint, whose rollback releases the row lock of a candidate that is gone; and
    when no unlocked row is free, a plain read, which locks cannot hide, decides between "empty"
    and "wait for the holders".
    """
    claim_settings()
    wait = False
    for _ in range(CLAIM_ATTEMPTS):
        for skipped in (False, True):
            savepoint = transaction.savepoint_create()
            candidate = _pick(
                reviewer=reviewer, now=now, skipped=skipped, wait=wait, round_ids=round_ids
            )
            if candidate is None:
                transaction.savepoint_rollback(savepoint)
                continue
            if not connection.features.has_select_for_update_skip_locked:
                return candidate
            # The pick's WHERE saw leases as of the statement's start; now that the row is ours,
            # a fresh statement sees every lease committed by whoever held the row before us.
            if available_items(reviewer=reviewer, now=now).filter(pk=candidate.pk).exists():
                transaction.savepoint_commit(savepoint)
                return candidate
            transaction.savepoint_rollback(savepoint)
            break
        else:
            if not available_items(reviewer=reviewer, now=now, round_ids=round_ids).exists():
                return None
            # Items wait but every one is locked by a claim in flight: queue behind a holder.
            wait = True
    raise ApplicationError(
        "queue: items are waiting but others are taking them right now; try again.",
        {"code": QUEUE_BUSY},
    )


@transaction.atomic
def lease_take_next(*, reviewer: AbstractBaseUser, round_id: int | None = None) -> Lease | None:
    """The reviewer's next item: their own live lease if they have one, else a new lease.

    Only rounds assigned to the reviewer; with round_id, only that one (the round they picked).
    """
    now = timezone.now()
    round_ids = open_round_ids(reviewer=reviewer, round_id=round_id)
    live = list(
        Lease.objects.filter(reviewer=reviewer, skipped_at__isnull=True, expires_at__gt=now)
    )
    # The reviewer's few live leases first, then their items by key: joined in one query,
    # PostgreSQL without statistics drove it from every pending item of the open rounds.
    resumable = (
        set(
            RoundItem.objects.filter(
                pk__in=[lease.item_id for lease in live],
                status=RoundItem.Status.PENDING,
                round_id__in=round_ids,
            ).values_list("pk", flat=True)
        )
        if live
        else set()
    )
    own = min(
        (lease for lease in live if lease.item_id in resumable),
        key=lambda lease: lease.taken_at,
        default=None,
    )
    if own is not None:
        own.expires_at = _lease_until(now)
        own.save(update_fields=["expires_at"])
        return own
    item = _claim(reviewer=reviewer, now=now, round_ids=round_ids)
    if item is None:
        return None
    lease, _ = Lease.objects.update_or_create(
        item_id=item.pk,
        reviewer=reviewer,
        defaults={"taken_at": now, "expires_at": _lease_until(now), "skipped_at": None},
    )
    return lease


def _locked_item(item_id: int) -> RoundItem:
    try:
        return (
            RoundItem.objects.select_for_update(of=("self",))
            .select_related("round")
            .annotate(category_slug=F("interaction__category"))
            .get(pk=item_id)
        )
    except RoundItem.DoesNotExist:
        raise ApplicationError("item: this item does not exist.", {"code": NOT_FOUND}) from None


def _ensure_slot(*, item: RoundItem, reviewer: AbstractBaseUser, now: datetime) -> Lease:
    """Raise unless the reviewer may still give this item a verdict; return their lease row."""
    lease = Lease.objects.filter(item=item, reviewer=reviewer).first()
    if lease is None:
        # Only an item offered to this reviewer (a lease, live, lapsed or skipped) takes their
        # verdict; any other id is answered as if it did not exist, so nothing of it shows.
        raise ApplicationError(
            "item: this item is not in your queue; nothing was saved.", {"code": NOT_FOUND}
        )
    if item.round.status != AuditRound.Status.OPEN:
        raise ApplicationError(
            "round: this round was closed while the item was open; nothing was saved.",
            {"code": ROUND_CLOSED},
        )
    if item.status != RoundItem.Status.PENDING:
        raise ApplicationError(
            "item: this item already has all its verdicts; nothing was saved.",
            {"code": ITEM_CLOSED},
        )
    live = lease.skipped_at is None and lease.expires_at > now
    if not live and not available_items(reviewer=reviewer, now=now).filter(pk=item.pk).exists():
        raise ApplicationError(
            "lease: your hold on this item expired and other reviewers took it; nothing was saved.",
            {"code": LEASE_LOST},
        )
    return lease


@transaction.atomic
def lease_renew(*, reviewer: AbstractBaseUser, item_id: int) -> Lease:
    """Extend the reviewer's lease while the page is open (re-taking it if it lapsed with room)."""
    now = timezone.now()
    item = _locked_item(item_id)
    if Verdict.objects.filter(
        item=item, reviewer=reviewer, policy_version_id=item.policy_version_id
    ).exists():
        raise ApplicationError(
            "item: your verdict on this item is already locked.", {"code": ITEM_CLOSED}
        )
    lease = _ensure_slot(item=item, reviewer=reviewer, now=now)
    if lease.skipped_at is not None:
        lease, _ = Lease.objects.update_or_create(
            item=item,
            reviewer=reviewer,
            defaults={"taken_at": now, "expires_at": _lease_until(now), "skipped_at": None},
        )
    else:
        lease.expires_at = _lease_until(now)
        lease.save(update_fields=["expires_at"])
    return lease


@transaction.atomic
def lease_skip(*, reviewer: AbstractBaseUser, item_id: int) -> None:
    """Release the lease; the item goes to the back of this reviewer's queue."""
    now = timezone.now()
    Lease.objects.filter(item_id=item_id, reviewer=reviewer).update(
        skipped_at=now, expires_at=now, skips=F("skips") + 1
    )


def _item_resolve(item: RoundItem) -> None:
    """Set the final decision once the item has all its verdicts (see the module docstring)."""
    if item.verdict_count < item.required_reviews:
        return
    decisions = set(
        Verdict.objects.filter(
            item=item, policy_version_id=item.policy_version_id, superseded=False
        ).values_list("decision", flat=True)
    )
    if item.is_gold and item.gold_decision:
        item.status, item.final_decision = RoundItem.Status.DONE, item.gold_decision
    elif len(decisions) == 1 and decisions <= {Decision.HELP, Decision.DECLINE}:
        item.status, item.final_decision = RoundItem.Status.DONE, decisions.pop()
    else:
        item.status, item.final_decision = RoundItem.Status.ADJUDICATION, ""
    item.save(update_fields=["status", "final_decision"])


def _validate_choice(value: str, choices: type, name: str) -> None:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ApplicationError(
            f"{name}: must be one of {allowed}.", {"code": INVALID, "field": name}
        )


def _judged_record(*, verdict: Verdict, item: RoundItem) -> None:
    """Note what the reviewer has judged, so their queue never offers it again (see JudgedItem)."""
    JudgedItem.objects.create(
        reviewer_id=verdict.reviewer_id,
        item_id=item.pk,
        policy_version_id=verdict.policy_version_id,
        interaction_id=item.interaction_id,
        round_id=item.round_id,
        prompt_digest=Interaction.objects.values_list("prompt_digest", flat=True).get(
            pk=item.interaction_id
        ),
    )


@transaction.atomic
def verdict_submit(
    *,
    reviewer: AbstractBaseUser,
    item_id: int,
    decision: str,
    reason_code: str = "",
    policy_clause: str = "",
    note: str = "",
    category_wrong: bool = False,
    suggested_category: str = "",
) -> Verdict:
    """Lock the reviewer's verdict; a second lock on the same item is refused, never merged.

    A stale page (Forward, a second tab) can post a verdict for an item already judged; saying
    "saved" there would hide that the second choice was dropped, so the error names the first.
    """
    now = timezone.now()
    item = _locked_item(item_id)
    existing = Verdict.objects.filter(
        item=item, reviewer=reviewer, policy_version_id=item.policy_version_id
    ).first()
    if existing is not None:
        raise ApplicationError(
            "verdict: your verdict on this item was already locked "
            f"({existing.get_decision_display()}); this second one was not saved.",
            {"code": ALREADY_LOCKED, "verdict_id": existing.pk},
        )
    # Access first: a bad form on someone else's item must fail as "not yours", not re-render it.
    lease = _ensure_slot(item=item, reviewer=reviewer, now=now)
    _validate_choice(decision, Decision, "decision")
    category = category_policy(policy_version_id=item.policy_version_id, slug=item.category_slug)
    codes = [c.code for c in category.reason_codes] if category else []
    # Any reason code of the version is accepted: the item may belong in another category.
    known = {c.code for c in policy_reason_codes(policy_version_id=item.policy_version_id)}
    if reason_code and (codes or known) and reason_code not in known:
        raise ApplicationError(
            f"reason_code: {reason_code!r} is not a reason code of this policy version.",
            {"code": INVALID, "field": "reason_code"},
        )
    if not reason_code and codes and decision != Decision.UNSURE:
        raise ApplicationError(
            "reason_code: choose the reason code that best fits your verdict.",
            {"code": INVALID, "field": "reason_code"},
        )
    slugs = {s for s, _ in policy_category_choices(policy_version_id=item.policy_version_id)}
    if suggested_category and suggested_category not in slugs:
        raise ApplicationError(
            f"suggested_category: {suggested_category!r} is not a category of this policy version.",
            {"code": INVALID, "field": "suggested_category"},
        )
    if suggested_category and not category_wrong:
        category_wrong = True
    taken_at = lease.taken_at if lease.skipped_at is None else now
    verdict = Verdict(
        item=item,
        reviewer=reviewer,
        decision=decision,
        reason_code=reason_code,
        policy_clause=policy_clause.strip()[:300],
        note=note.strip(),
        policy_version_id=item.policy_version_id,
        seconds_spent=max(0, int((now - taken_at).total_seconds())),
        locked_at=now,
        category_wrong=category_wrong,
        suggested_category=suggested_category if suggested_category != item.category_slug else "",
        after_reveal=lease.seen_response,
    )
    # Uniqueness was checked above under the item's row lock, so a duplicate POST waiting on
    # that lock finds this verdict and is refused; the unique constraint still backs it.
    verdict.full_clean(validate_unique=False, validate_constraints=False)
    verdict.save()
    _judged_record(verdict=verdict, item=item)
    RoundItem.objects.filter(pk=item.pk).update(verdict_count=F("verdict_count") + 1)
    item.verdict_count += 1
    Lease.objects.filter(item=item, reviewer=reviewer).delete()
    _item_resolve(item)
    return verdict


def _observation_resolve(item_id: int) -> RoundItem:
    """Set the item's observed outcomes from its reviewers' observations (see observation_correct).

    Agreeing observations become the item's; disagreeing ones leave it blank and mark it
    disputed until a safety lead settles it. A lead's correction is never overwritten.
    """
    item = RoundItem.objects.select_for_update(of=("self",)).get(pk=item_id)
    if item.observation_corrected_at is not None:
        return item
    observations = list(
        Verdict.objects.filter(item_id=item_id, superseded=False)
        .exclude(observed_label="")
        .values_list("observed_label", "observed_served_label")
    )
    model = {m for m, _ in observations}
    served = {s for _, s in observations if s}
    item.observed_label = next(iter(model)) if len(model) == 1 else ""
    item.observed_served_label = next(iter(served)) if len(served) == 1 else ""
    item.observation_disputed = len(model) > 1 or len(served) > 1
    item.save(update_fields=["observed_label", "observed_served_label", "observation_disputed"])
    return item


@transaction.atomic
def verdict_observe(
    *,
    reviewer: AbstractBaseUser,
    item_id: int,
    observed_label: str,
    observed_served_label: str = "",
) -> Verdict:
    """After the reveal: what the reviewer saw the model do and what the user was served.

    The served answer is asked only when the gateway changed what the model said; otherwise it
    is the model's answer and observed_served_label is ignored. These observations, not the
    classifier's labels, are what the estimates count as refused / complied.
    """
    _validate_choice(observed_label, Label, "observed_label")
    verdict = (
        Verdict.objects.select_for_update()
        .select_related("item__interaction")
        .filter(item_id=item_id, reviewer=reviewer, superseded=False)
        .order_by("-locked_at")
        .first()
    )
    if verdict is None:
        raise ApplicationError(
            "verdict: lock your verdict on this item before recording what the model did.",
            {"code": NOT_FOUND},
        )
    interaction = verdict.item.interaction
    asked = served_differs(
        gateway_action=interaction.gateway_action,
        response=interaction.response,
        served_response=interaction.served_response,
    )
    if not asked:
        observed_served_label = ""
    elif observed_served_label:
        _validate_choice(observed_served_label, Label, "observed_served_label")
    verdict.observed_label = observed_label
    verdict.observed_served_label = observed_served_label
    verdict.observed_at = timezone.now()
    verdict.full_clean()
    verdict.save(update_fields=["observed_label", "observed_served_label", "observed_at"])
    _observation_resolve(item_id)
    return verdict


def _observation_snapshot(item: RoundItem) -> dict:
    return {
        "observed_label": item.observed_label,
        "observed_served_label": item.observed_served_label,
        "observation_disputed": item.observation_disputed,
    }


@transaction.atomic
def observation_correct(
    *,
    actor: AbstractBaseUser,
    item_id: int,
    observed_label: str,
    observed_served_label: str = "",
    reason: str,
) -> RoundItem:
    """A safety lead settles (or corrects) what the model did and what the user was served.

    It adjudicates disagreeing observations too; the change is audited with before and after,
    and later observations no longer move it.
    """
    _validate_choice(observed_label, Label, "observed_label")
    if observed_served_label:
        _validate_choice(observed_served_label, Label, "observed_served_label")
    if not reason.strip():
        raise ApplicationError(
            "reason: say why the observation is being set.", {"code": INVALID, "field": "reason"}
        )
    item = _locked_item(item_id)
    before = _observation_snapshot(item)
    item.observed_label = observed_label
    item.observed_served_label = observed_served_label
    item.observation_disputed = False
    item.observation_corrected_at = timezone.now()
    item.save(
        update_fields=[
            "observed_label",
            "observed_served_label",
            "observation_disputed",
            "observation_corrected_at",
        ]
    )
    audit_event_record(
        actor=actor,
        action="item.observation_correct",
        obj=item,
        before=before,
        after={**_observation_snapshot(item), "reason": reason.strip()},
    )
    return item


def _verdict_snapshot(verdict: Verdict) -> dict[str, str]:
    return {
        "decision": verdict.decision,
        "reason_code": verdict.reason_code,
        "policy_clause": verdict.policy_clause,
        "note": verdict.note,
    }


@transaction.atomic
def verdict_correct(
    *,
    actor: AbstractBaseUser,
    verdict_id: int,
    decision: str,
    reason_code: str = "",
    note: str | None = None,
    reason: str,
) -> Verdict:
    """A safety lead changes a locked verdict; the change is audited with before and after."""
    _validate_choice(decision, Decision, "decision")
    if not reason.strip():
        raise ApplicationError(
            "reason: say why the locked verdict is being corrected.",
            {"code": INVALID, "field": "reason"},
        )
    try:
        verdict = Verdict.objects.select_for_update().get(pk=verdict_id)
    except Verdict.DoesNotExist:
        raise ApplicationError(
            "verdict: this verdict does not exist.", {"code": NOT_FOUND}
        ) from None
    item = _locked_item(verdict.item_id)
    before = _verdict_snapshot(verdict)
    verdict.decision = decision
    verdict.reason_code = reason_code
    if note is not None:
        verdict.note = note.strip()
    verdict.corrected_at = timezone.now()
    verdict.full_clean()
    verdict.save()
    after = {**_verdict_snapshot(verdict), "reason": reason.strip()}
    audit_event_record(
        actor=actor, action="verdict.correct", obj=verdict, before=before, after=after
    )
    # Without an adjudication the item's status follows its verdicts again.
    if not item.adjudications.exists() and verdict.policy_version_id == item.policy_version_id:
        _item_resolve(item)
    return verdict


@transaction.atomic
def adjudication_record(
    *, adjudicator: AbstractBaseUser, item_id: int, decision: str, note: str = ""
) -> Adjudication:
    """A safety lead's final call on an item; it becomes the item's final decision."""
    _validate_choice(decision, Decision, "decision")
    item = _locked_item(item_id)
    if not Verdict.objects.filter(item=item, policy_version_id=item.policy_version_id).exists():
        raise ApplicationError(
            "item: this item has no verdicts to adjudicate yet.", {"code": INVALID}
        )
    before = {"status": item.status, "final_decision": item.final_decision}
    adjudication = Adjudication(
        item=item,
        adjudicator=adjudicator,
        decision=decision,
        note=note.strip(),
        policy_version_id=item.policy_version_id,
    )
    adjudication.full_clean()
    adjudication.save()
    item.status, item.final_decision = RoundItem.Status.DONE, decision
    item.save(update_fields=["status", "final_decision"])
    audit_event_record(
        actor=adjudicator,
        action="item.adjudicate",
        obj=item,
        before=before,
        after={"status": item.status, "final_decision": decision, "note": adjudication.note},
    )
    return adjudication


UNDO_CLOSED = "undo_closed"


@transaction.atomic
def verdict_undo(*, reviewer: AbstractBaseUser, item_id: int) -> Lease:
    """Take back the reviewer's own verdict within UNDO_SECONDS of its lock.

    Refused once anyone else has acted on the item since (another reviewer's verdict, a lead's
    adjudication or correction, a re-review): their work was done against this verdict. The
    verdict, the JudgedItem row that kept the item out of the queue, and the item's resolution
    are undone together, and the item comes back to the reviewer under a fresh lease, marked as
    seen: the verdict they give next is stored as given after the reveal. The event is audited
    with the verdict as it was.
    """
    now = timezone.now()
    item = _locked_item(item_id)
    verdict = Verdict.objects.filter(
        item=item, reviewer=reviewer, policy_version_id=item.policy_version_id
    ).first()
    if verdict is None:
        raise ApplicationError(
            "verdict: you have no verdict on this item to take back.", {"code": NOT_FOUND}
        )
    refusal = _undo_refusal(item=item, verdict=verdict, now=now)
    if refusal:
        raise ApplicationError(f"undo: {refusal}; your verdict stands.", {"code": UNDO_CLOSED})
    before = {
        **_verdict_snapshot(verdict),
        "locked_at": verdict.locked_at.isoformat(),
        "observed_label": verdict.observed_label,
        "observed_served_label": verdict.observed_served_label,
        "item_status": item.status,
    }
    audit_event_record(actor=reviewer, action="verdict.undo", obj=verdict, before=before, after={})
    JudgedItem.objects.filter(
        reviewer_id=reviewer.pk, item_id=item.pk, policy_version_id=verdict.policy_version_id
    ).delete()
    verdict.delete()
    RoundItem.objects.filter(pk=item.pk).update(
        verdict_count=F("verdict_count") - 1, status=RoundItem.Status.PENDING, final_decision=""
    )
    _observation_resolve(item.pk)
    lease, _ = Lease.objects.update_or_create(
        item=item,
        reviewer=reviewer,
        defaults={
            "taken_at": now,
            "expires_at": _lease_until(now),
            "skipped_at": None,
            "seen_response": True,
        },
    )
    return lease


def _undo_refusal(*, item: RoundItem, verdict: Verdict, now: datetime) -> str:
    """Why the verdict can no longer be taken back, or "" when it can."""
    if (now - verdict.locked_at).total_seconds() > UNDO_SECONDS:
        return f"a verdict can be taken back only within {UNDO_SECONDS // 60} minutes of its lock"
    if item.round.status != AuditRound.Status.OPEN:
        return "the round is closed"
    if verdict.superseded or verdict.corrected_at is not None:
        return "a safety lead has already acted on this verdict"
    if item.adjudications.exists() or item.observation_corrected_at is not None:
        return "a safety lead has already acted on this item"
    others = Verdict.objects.filter(item=item, locked_at__gte=verdict.locked_at).exclude(
        pk=verdict.pk
    )
    if others.exists():
        return "another reviewer has judged this item since"
    return ""


@transaction.atomic
def item_comment_add(*, author: AbstractBaseUser, item_id: int, text: str) -> ItemComment:
    """Add to an item's comment thread: a safety lead, or a reviewer whose verdict on it is locked.

    A reviewer joins only after their lock, because the thread may speak of what the model did.
    """
    text = text.strip()
    if not text:
        raise ApplicationError("text: write a comment first.", {"code": INVALID, "field": "text"})
    if not RoundItem.objects.filter(pk=item_id).exists():
        raise ApplicationError("item: this item does not exist.", {"code": NOT_FOUND})
    if (
        not roles.is_safety_lead(author)
        and not Verdict.objects.filter(item_id=item_id, reviewer=author).exists()
    ):
        raise ApplicationError(
            "item: lock your verdict on this item before joining its thread.", {"code": NOT_FOUND}
        )
    comment = ItemComment(item_id=item_id, author=author, text=text)
    comment.full_clean()
    comment.save()
    return comment
