"""Reads for blind review: the reviewer's queue, the blinded item payload, the reveal, progress.

Blinding is structural here: the reviewer's payload is read with ``values()`` over an explicit list
of allowed fields, so the model's response, the served response, the labels, the detector's scores,
the model version and the gateway action are never loaded into the process for a reviewer's page.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from auditcore.detection.report import FlagValidation, validate_categories_from_flags
from auditcore.models import (
    AuditRound,
    Category,
    Decision,
    GatewayAction,
    Interaction,
    ItemComment,
    JudgedItem,
    Lease,
    RoundItem,
    Verdict,
)

# Interaction fields a reviewer may see before their verdict is locked. Nothing else is read.
REVIEWER_VISIBLE_FIELDS = (
    "interaction__prompt",
    "interaction__earlier_turns",
    "interaction__surface__name",
    "interaction__category",
)
MAX_REASON_CODES = 9
# How long after its lock a reviewer may take their own verdict back (services.verdict_undo).
UNDO_SECONDS = 120
RECENT_ITEMS = 20


def _claimable(*, reviewer: AbstractBaseUser, now: datetime) -> QuerySet[RoundItem]:
    """Pending items reviewer R may take now, in any round (callers scope the rounds).

    R has not judged the item's interaction in any round (a re-review of the same item under a
    newer policy version aside), nor a prompt with the same digest in the item's round; and the
    verdicts plus the live leases of other reviewers leave room for one more (required_reviews).

    Every test against another table is a correlated scalar subquery answered by an index made
    for it. PostgreSQL keeps such subqueries as per-row probes, whereas NOT EXISTS becomes an
    anti join whose method and index it picks from statistics: on a fresh database it scanned
    every verdict once per pending item. This way the plan is the same with or without ANALYZE.
    """
    live_by_others = (
        Lease.objects.filter(item=OuterRef("pk"), expires_at__gt=now, skipped_at__isnull=True)
        .exclude(reviewer=reviewer)
        .order_by()
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    judged = JudgedItem.objects.filter(reviewer=reviewer).filter(
        ~Q(item=OuterRef("pk")) | Q(policy_version=OuterRef("policy_version"))
    )
    digest = (
        Interaction.objects.filter(pk=OuterRef(OuterRef("interaction_id")))
        .order_by()
        .values("prompt_digest")[:1]
    )
    return (
        RoundItem.objects.filter(status=RoundItem.Status.PENDING)
        .alias(
            leased=Coalesce(Subquery(live_by_others), 0),
            seen_interaction=Subquery(
                judged.filter(interaction=OuterRef("interaction_id")).values("pk")[:1]
            ),
            seen_prompt=Subquery(
                judged.filter(round=OuterRef("round_id"), prompt_digest=Subquery(digest)).values(
                    "pk"
                )[:1]
            ),
        )
        .filter(
            required_reviews__gt=F("verdict_count") + F("leased"),
            seen_interaction__isnull=True,
            seen_prompt__isnull=True,
        )
    )


def available_items(
    *, reviewer: AbstractBaseUser, now: datetime, round_ids: list[int] | None = None
) -> QuerySet[RoundItem]:
    """Items reviewer R may take now, in every open round or in round_ids (see _claimable)."""
    if round_ids is not None:
        return _claimable(reviewer=reviewer, now=now).filter(round_id__in=round_ids)
    return _claimable(reviewer=reviewer, now=now).filter(round__status=AuditRound.Status.OPEN)


def assigned_rounds(*, reviewer: AbstractBaseUser) -> QuerySet[AuditRound]:
    """Open rounds the reviewer works: those assigned to them and those assigned to nobody
    (a round without assigned reviewers is every reviewer's)."""
    return AuditRound.objects.filter(status=AuditRound.Status.OPEN).filter(
        Q(reviewers=None) | Q(reviewers=reviewer)
    )


def open_round_ids(
    *, reviewer: AbstractBaseUser | None = None, round_id: int | None = None
) -> list[int]:
    """Open rounds in the order their queues are served: oldest first.

    With a reviewer, only the rounds assigned to them; with round_id, only that one of them.
    The claim then walks each round by itself, so this filter never enters its plan.
    """
    rounds = (
        assigned_rounds(reviewer=reviewer)
        if reviewer is not None
        else AuditRound.objects.filter(status=AuditRound.Status.OPEN)
    )
    if round_id is not None:
        rounds = rounds.filter(pk=round_id)
    return sorted(set(rounds.values_list("pk", flat=True)))


@dataclass(frozen=True)
class RoundChoice:
    """An assigned open round as the reviewer picks it: x of n items reviewed."""

    round_id: int
    name: str
    items: int
    reviewed: int
    mine: int


def reviewer_round_choices(*, reviewer: AbstractBaseUser) -> list[RoundChoice]:
    """The reviewer's assigned open rounds with their progress, oldest first."""
    ids = open_round_ids(reviewer=reviewer)
    rows = (
        RoundItem.objects.filter(round_id__in=ids)
        .values("round_id", "round__name")
        .annotate(
            n=Count("pk"),
            reviewed=Count("pk", filter=~Q(status=RoundItem.Status.PENDING)),
        )
        .order_by("round_id")
    )
    mine = dict(
        Verdict.objects.filter(reviewer=reviewer, item__round_id__in=ids, superseded=False)
        .values_list("item__round_id")
        .annotate(n=Count("pk"))
    )
    return [
        RoundChoice(
            round_id=row["round_id"],
            name=row["round__name"],
            items=row["n"],
            reviewed=row["reviewed"],
            mine=mine.get(row["round_id"], 0),
        )
        for row in rows
    ]


def claim_candidates(
    *, reviewer: AbstractBaseUser, now: datetime, round_id: int, skipped: bool
) -> QuerySet[RoundItem]:
    """One open round's items R may take, in the round's stored random order.

    skipped=False: the items R has not skipped; True: only those (the back of R's queue). Scoped
    to one round by equality and ordered by queue_order alone, the round_item_queue index
    (round, status, queue_order) yields the rows in order, so the first free one ends the scan
    and no estimate can make a sort of the whole round look cheaper. R's skipped items are read
    first as a short list of ids, which keeps them out of the plan's choices too.
    """
    # No join to the items here: PostgreSQL would drive it from the round's items.
    mine_skipped = list(
        Lease.objects.filter(reviewer=reviewer, skipped_at__isnull=False).values_list(
            "item_id", flat=True
        )
    )
    queryset = _claimable(reviewer=reviewer, now=now).filter(round_id=round_id)
    if skipped:
        if not mine_skipped:
            return RoundItem.objects.none()
        queryset = queryset.filter(pk__in=mine_skipped)
    elif mine_skipped:
        queryset = queryset.exclude(pk__in=mine_skipped)
    return queryset.order_by("queue_order")


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    withheld: bool = False  # an answer that is itself an item this reviewer has not judged


# Earlier turns a reviewer sees: the most recent ones (older ones are counted, not shown).
MAX_CONTEXT_TURNS = 12
WITHHELD = "[withheld: this answer is itself an item under review that you have not judged yet]"


@dataclass(frozen=True)
class ReasonCode:
    number: int
    code: str
    label: str


@dataclass(frozen=True)
class CategoryPolicy:
    slug: str
    name: str
    description: str
    help_when: list[str]
    decline_when: list[str]
    reason_codes: list[ReasonCode]
    high_stakes: bool


@dataclass(frozen=True)
class ReviewItem:
    """Everything a reviewer sees before their verdict is locked — and nothing more."""

    item_id: int
    round_name: str
    policy_version: str
    prompt: str
    earlier_turns: list[Turn]
    surface: str
    category_slug: str
    category: CategoryPolicy | None
    # Every reason code and category of the version: the reviewer may pick another category's
    # reason by search, and say the item belongs in another category.
    policy_codes: list["PolicyReasonCode"] = field(default_factory=list)
    policy_categories: list[tuple[str, str]] = field(default_factory=list)
    lease_expires_at: datetime | None = None
    skipped_before: bool = False
    # The reviewer took back a verdict on this item and has seen the model's answer.
    seen_response: bool = False
    reason_codes: list[ReasonCode] = field(default_factory=list)

    @property
    def context_turns(self) -> list[Turn]:
        """The most recent earlier turns, shown expanded as context."""
        return self.earlier_turns[-MAX_CONTEXT_TURNS:]

    @property
    def older_turns(self) -> int:
        return max(0, len(self.earlier_turns) - MAX_CONTEXT_TURNS)


def _turns(raw: object) -> list[Turn]:
    if not isinstance(raw, list):
        return []
    turns = []
    for entry in raw:
        if isinstance(entry, dict):
            turns.append(
                Turn(role=str(entry.get("role", "")), content=str(entry.get("content", "")))
            )
    return turns


def _blinded_turns(raw: object, reviewer: AbstractBaseUser) -> list[Turn]:
    """Earlier turns, with answers that are themselves sampled items withheld until judged.

    A joined conversation's assistant turns carry the id of the record they came from
    (auditcore.services.conversations); if that record is a sampled item the reviewer has not
    locked a verdict on, showing its answer here would unblind that item for them later.
    """
    turns = _turns(raw)
    if not isinstance(raw, list):
        return turns
    sources = {
        entry.get("interaction_id")
        for entry in raw
        if isinstance(entry, dict)
        and entry.get("role") == "assistant"
        and entry.get("interaction_id")
    }
    if not sources:
        return turns
    judged = set(
        Verdict.objects.filter(reviewer=reviewer, item__interaction_id__in=sources).values_list(
            "item__interaction_id", flat=True
        )
    )
    sampled = set(
        RoundItem.objects.filter(interaction_id__in=sources - judged, is_gold=False).values_list(
            "interaction_id", flat=True
        )
    )
    out = []
    for entry, turn in zip((e for e in raw if isinstance(e, dict)), turns, strict=True):
        if entry.get("role") == "assistant" and entry.get("interaction_id") in sampled:
            turn = Turn(role=turn.role, content=WITHHELD, withheld=True)
        out.append(turn)
    return out


def category_policy(*, policy_version_id: int, slug: str) -> CategoryPolicy | None:
    category = (
        Category.objects.filter(policy_version_id=policy_version_id, slug=slug)
        .only(
            "slug",
            "name",
            "description",
            "help_when",
            "decline_when",
            "reason_codes",
            "high_stakes",
        )
        .first()
    )
    if category is None:
        return None
    codes = [
        ReasonCode(number=i, code=str(c.get("code", "")), label=str(c.get("label", "")))
        for i, c in enumerate(category.reason_codes or [], start=1)
        if isinstance(c, dict) and c.get("code")
    ][:MAX_REASON_CODES]
    return CategoryPolicy(
        slug=category.slug,
        name=category.name,
        description=category.description,
        help_when=[str(x) for x in category.help_when or []],
        decline_when=[str(x) for x in category.decline_when or []],
        reason_codes=codes,
        high_stakes=category.high_stakes,
    )


@dataclass(frozen=True)
class PolicyReasonCode:
    code: str
    label: str
    category: str  # the category's name


def policy_reason_codes(*, policy_version_id: int) -> list[PolicyReasonCode]:
    """Every reason code of the version's categories, in category order."""
    codes = []
    for name, raw in (
        Category.objects.filter(policy_version_id=policy_version_id)
        .order_by("slug")
        .values_list("name", "reason_codes")
    ):
        codes.extend(
            PolicyReasonCode(code=str(c["code"]), label=str(c.get("label", "")), category=name)
            for c in raw or []
            if isinstance(c, dict) and c.get("code")
        )
    return codes


def policy_category_choices(*, policy_version_id: int) -> list[tuple[str, str]]:
    """(slug, name) of the version's categories."""
    return list(
        Category.objects.filter(policy_version_id=policy_version_id)
        .order_by("name")
        .values_list("slug", "name")
    )


def review_item_payload(
    *, item_id: int, reviewer: AbstractBaseUser, lease: Lease | None = None
) -> ReviewItem | None:
    """The blinded item for a reviewer, or None unless it was leased to them or judged by them.

    Reads only REVIEWER_VISIBLE_FIELDS of the interaction. Pass the reviewer's lease when the
    caller has it, to save reading it again. A lapsed or skipped lease still counts: the item was
    offered to this reviewer; an item another reviewer holds or finished, never offered to this
    one, is as absent as an id that does not exist.
    """
    if lease is None or lease.item_id != item_id or lease.reviewer_id != reviewer.pk:
        lease = Lease.objects.filter(item_id=item_id, reviewer=reviewer).first()
    if lease is None and not Verdict.objects.filter(item_id=item_id, reviewer=reviewer).exists():
        return None
    return blinded_item(item_id=item_id, lease=lease, reviewer=reviewer)


def blinded_item(
    *, item_id: int, lease: Lease | None = None, reviewer: AbstractBaseUser | None = None
) -> ReviewItem | None:
    """The blinded payload of an item without an access check: for safety leads and callers
    that checked the reviewer's access (review_item_payload). With a reviewer, earlier answers
    that are items they have not judged are withheld."""
    row = (
        RoundItem.objects.filter(pk=item_id)
        .values(
            "pk",
            "round__name",
            "policy_version_id",
            "policy_version__number",
            "policy_version__policy__name",
            *REVIEWER_VISIBLE_FIELDS,
        )
        .first()
    )
    if row is None:
        return None
    category = category_policy(
        policy_version_id=row["policy_version_id"], slug=row["interaction__category"]
    )
    return ReviewItem(
        item_id=row["pk"],
        round_name=row["round__name"],
        policy_version=f"{row['policy_version__policy__name']} v{row['policy_version__number']}",
        prompt=row["interaction__prompt"],
        earlier_turns=(
            _blinded_turns(row["interaction__earlier_turns"], reviewer)
            if reviewer is not None
            else _turns(row["interaction__earlier_turns"])
        ),
        surface=row["interaction__surface__name"],
        category_slug=row["interaction__category"],
        category=category,
        lease_expires_at=lease.expires_at if lease else None,
        skipped_before=bool(lease and (lease.skipped_at or lease.skips)),
        seen_response=bool(lease and lease.seen_response),
        reason_codes=category.reason_codes if category else [],
        policy_codes=policy_reason_codes(policy_version_id=row["policy_version_id"]),
        policy_categories=policy_category_choices(policy_version_id=row["policy_version_id"]),
    )


@dataclass(frozen=True)
class Reveal:
    """What the model said, shown to a reviewer only once their verdict on the item is locked."""

    verdict: Verdict
    prompt: str
    response: str
    served_response: str | None  # None: no gateway touched the answer
    gateway_action: str
    # Whether the user got something else than the model's answer: then the reviewer is asked
    # what the user was served too (served_differs).
    ask_served: bool


def served_differs(*, gateway_action: str, response: str, served_response: str | None) -> bool:
    """Whether the user got something else than the model's answer (then ask what they got)."""
    if gateway_action == GatewayAction.NONE or served_response is None:
        return False
    return served_response != response


def verdict_for_reviewer(*, item_id: int, reviewer: AbstractBaseUser) -> Verdict | None:
    """The reviewer's locked verdict on the item under its current policy version."""
    return Verdict.objects.filter(
        item_id=item_id,
        reviewer=reviewer,
        policy_version_id=Subquery(
            RoundItem.objects.filter(pk=item_id).values("policy_version_id")[:1]
        ),
    ).first()


def verdict_reveal(
    *, item_id: int, reviewer: AbstractBaseUser, verdict: Verdict | None = None
) -> Reveal | None:
    """The prompt and the model's response, only when the reviewer's verdict here is locked."""
    if verdict is None or verdict.item_id != item_id or verdict.reviewer_id != reviewer.pk:
        verdict = verdict_for_reviewer(item_id=item_id, reviewer=reviewer)
    if verdict is None or verdict.locked_at is None:
        return None
    prompt, response, served, action = (
        RoundItem.objects.filter(pk=item_id)
        .values_list(
            "interaction__prompt",
            "interaction__response",
            "interaction__served_response",
            "interaction__gateway_action",
        )
        .get()
    )
    ask = served_differs(gateway_action=action, response=response, served_response=served)
    return Reveal(
        verdict=verdict,
        prompt=prompt,
        response=response,
        served_response=served,
        gateway_action=action,
        ask_served=ask,
    )


@dataclass(frozen=True)
class ReviewProgress:
    done_today: int
    # None when not counted: the count scans the open rounds, so item swaps skip it.
    waiting: int | None


def review_queue_size(*, reviewer: AbstractBaseUser, round_id: int | None = None) -> int:
    round_ids = open_round_ids(reviewer=reviewer, round_id=round_id)
    return available_items(reviewer=reviewer, now=timezone.now(), round_ids=round_ids).count()


def review_progress(
    *, reviewer: AbstractBaseUser, count_waiting: bool = True, round_id: int | None = None
) -> ReviewProgress:
    now = timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    done = Verdict.objects.filter(reviewer=reviewer, locked_at__gte=start).count()
    waiting = review_queue_size(reviewer=reviewer, round_id=round_id) if count_waiting else None
    return ReviewProgress(done_today=done, waiting=waiting)


def lease_is_live(*, item_id: int, reviewer: AbstractBaseUser) -> bool:
    return Lease.objects.filter(
        item_id=item_id,
        reviewer=reviewer,
        skipped_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).exists()


def lease_seconds_left(expires_at: datetime | None) -> int:
    if expires_at is None:
        return 0
    return max(0, int((expires_at - timezone.now()) / timedelta(seconds=1)))


@dataclass(frozen=True)
class RecentItem:
    """One of the reviewer's own recent verdicts: what they chose and saw, nothing of the model."""

    item_id: int
    round_name: str
    prompt: str
    decision: str
    reason_code: str
    locked_at: datetime
    observed_label: str
    observed_served_label: str
    undo_open: bool

    @property
    def observation_missing(self) -> bool:
        return not self.observed_label

    @property
    def decision_label(self) -> str:
        return Decision(self.decision).label


def recent_items(*, reviewer: AbstractBaseUser, limit: int = RECENT_ITEMS) -> list[RecentItem]:
    """The reviewer's latest locked verdicts, newest first, for "my recent items".

    Only items the reviewer has judged are listed (so the reveal is theirs to see), and only
    their own answers: the model's response and labels are read on the reveal page alone.
    """
    now = timezone.now()
    rows = (
        Verdict.objects.filter(reviewer=reviewer, superseded=False)
        .order_by("-locked_at")
        .values(
            "item_id",
            "item__round__name",
            "item__interaction__prompt",
            "decision",
            "reason_code",
            "locked_at",
            "observed_label",
            "observed_served_label",
        )[:limit]
    )
    return [
        RecentItem(
            item_id=row["item_id"],
            round_name=row["item__round__name"],
            prompt=row["item__interaction__prompt"],
            decision=row["decision"],
            reason_code=row["reason_code"],
            locked_at=row["locked_at"],
            observed_label=row["observed_label"],
            observed_served_label=row["observed_served_label"],
            undo_open=(now - row["locked_at"]).total_seconds() <= UNDO_SECONDS,
        )
        for row in rows
    ]


# --- Safety leads: adjudication (they may see everything, responses included).


@dataclass(frozen=True)
class AdjudicationRow:
    item_id: int
    round_name: str
    category: str
    prompt: str
    decisions: list[str]


def adjudication_queue(
    *, round_id: int | None = None, category: str = "", reviewer_id: int | None = None
) -> list[AdjudicationRow]:
    """Items whose verdicts disagree (or were unsure), oldest first, optionally of one round,
    one category, or judged by one reviewer. Two queries."""
    queue = RoundItem.objects.filter(status=RoundItem.Status.ADJUDICATION)
    if round_id is not None:
        queue = queue.filter(round_id=round_id)
    if category:
        queue = queue.filter(interaction__category=category)
    if reviewer_id is not None:
        queue = queue.filter(
            pk__in=Verdict.objects.filter(reviewer_id=reviewer_id, superseded=False).values(
                "item_id"
            )
        )
    items = list(
        queue.order_by("created_at", "pk").values(
            "pk", "round__name", "interaction__category", "interaction__prompt"
        )
    )
    decisions: dict[int, list[str]] = {row["pk"]: [] for row in items}
    for item_id, decision in (
        Verdict.objects.filter(item_id__in=decisions, superseded=False)
        .order_by("item_id", "pk")
        .values_list("item_id", "decision")
    ):
        decisions[item_id].append(decision)
    return [
        AdjudicationRow(
            item_id=row["pk"],
            round_name=row["round__name"],
            category=row["interaction__category"],
            prompt=row["interaction__prompt"],
            decisions=decisions[row["pk"]],
        )
        for row in items
    ]


def observation_disputes() -> list[AdjudicationRow]:
    """Items whose reviewers disagree on what the model did or what the user got, oldest first.

    Until a safety lead settles them the estimates use the classifier's label for these.
    """
    items = (
        RoundItem.objects.filter(observation_disputed=True, observation_corrected_at__isnull=True)
        .order_by("created_at", "pk")
        .values_list("pk", "round__name", "interaction__category", "interaction__prompt")
    )
    return [AdjudicationRow(pk, name, category, prompt, []) for pk, name, category, prompt in items]


@dataclass(frozen=True)
class AdjudicationDetail:
    item: RoundItem
    payload: ReviewItem
    verdicts: list[Verdict]
    adjudications: list


def adjudication_item(*, item_id: int, viewer: AbstractBaseUser) -> AdjudicationDetail | None:
    item = (
        RoundItem.objects.select_related(
            "round", "interaction", "interaction__model_version", "interaction__surface"
        )
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        return None
    verdicts = list(
        Verdict.objects.filter(item=item).select_related("reviewer").order_by("locked_at", "pk")
    )
    adjudications = list(item.adjudications.select_related("adjudicator").order_by("-created_at"))
    payload = blinded_item(item_id=item_id)
    return AdjudicationDetail(
        item=item, payload=payload, verdicts=verdicts, adjudications=adjudications
    )


def item_comments(*, item_id: int) -> QuerySet:
    """The item's comment thread, oldest first (callers check who may read it)."""
    return ItemComment.objects.filter(item_id=item_id).select_related("author")


@dataclass(frozen=True)
class WrongCategoryRow:
    category: str
    flagged: int
    suggestions: list[tuple[str, int]]


def wrong_category_counts() -> list[WrongCategoryRow]:
    """Per category the items were filed under: verdicts saying "wrong category", and what the
    reviewers suggested instead (most suggested first)."""
    rows = (
        Verdict.objects.filter(category_wrong=True, superseded=False)
        .values("item__interaction__category", "suggested_category")
        .annotate(n=Count("pk"))
    )
    by_category: dict[str, dict[str, int]] = {}
    for row in rows:
        suggestions = by_category.setdefault(row["item__interaction__category"], {})
        key = row["suggested_category"] or "(none suggested)"
        suggestions[key] = suggestions.get(key, 0) + row["n"]
    return sorted(
        (
            WrongCategoryRow(
                category=category,
                flagged=sum(suggestions.values()),
                suggestions=sorted(suggestions.items(), key=lambda kv: (-kv[1], kv[0])),
            )
            for category, suggestions in by_category.items()
        ),
        key=lambda r: (-r.flagged, r.category),
    )


def category_flag_validation() -> FlagValidation:
    """The category classifier against reviewers' "wrong category" flags: per category the
    items filed under it that were reviewed, those flagged, and what reviewers suggested."""
    verdicts = Verdict.objects.filter(superseded=False, item__is_gold=False)
    category = "item__interaction__category"

    def items_per_category(rows) -> dict[str, int]:
        grouped = rows.values(category).annotate(n=Count("item", distinct=True)).order_by()
        return {row[category]: row["n"] for row in grouped}

    flags = verdicts.filter(category_wrong=True)
    suggestions = (
        flags.values_list(category, "suggested_category").annotate(n=Count("pk")).order_by()
    )
    return validate_categories_from_flags(
        items_per_category(verdicts), items_per_category(flags), list(suggestions)
    )
