"""Join the records of one conversation: each turn gets its earlier turns and is re-classified.

Production systems often log one record per assistant turn carrying only that turn's user
message. Records sharing a `conversation_id` are joined after every ingest (they may arrive in
any order, in several files or chunks): ordered by turn number, then timestamp, each record that
did not carry its own history gets the earlier records' user messages and what the user was
served. The category classifier then weighs those earlier user turns; a record whose category
changes is moved to its new stratum and the change is recorded in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from auditcore import sampling
from auditcore.detection.category import CategoryClassifier
from auditcore.models import Interaction, StratumCount
from auditcore.services.audit import audit_event_record

# Conversations read per query.
BATCH = 500
# Turns built from another record carry its id: the review page uses it to keep blinding (an
# answer that is itself under review is withheld from anyone who has not judged it yet).
FROM_KEY = "interaction_id"


@dataclass(frozen=True)
class JoinSummary:
    conversations: int
    linked: int  # records whose earlier turns changed
    recategorised: int


def _own_history(turns: list) -> bool:
    """The record carried its earlier turns in its own messages (never overwritten)."""
    return bool(turns) and not any(isinstance(t, dict) and FROM_KEY in t for t in turns)


def _served_text(row: Interaction) -> str:
    return row.response if row.served_response is None else row.served_response


def joined_history(rows: list[Interaction]) -> list[list[dict]]:
    """Earlier turns for each of a conversation's records, ordered (pure over loaded rows)."""
    histories: list[list[dict]] = []
    before: list[dict] = []
    for i, row in enumerate(rows):
        if i == 0 and _own_history(row.earlier_turns):
            before = [dict(t) for t in row.earlier_turns]
        histories.append(list(before))
        before += [
            {"role": "user", "content": row.prompt, FROM_KEY: row.pk},
            {"role": "assistant", "content": _served_text(row), FROM_KEY: row.pk},
        ]
    return histories


def _move_count(row: Interaction, old_category: str) -> None:
    """Keep StratumCount equal to the table after a record changes category."""
    key = {
        "day": row.day,
        "surface_id": row.surface_id,
        "model_version_id": row.model_version_id,
        "outcome": row.response_label,
    }
    weight = row.impact_weight
    StratumCount.objects.filter(category=old_category, **key).update(
        count=F("count") - 1,
        impact_sum=F("impact_sum") - weight,
        impact_sq_sum=F("impact_sq_sum") - weight * weight,
    )
    target, _ = StratumCount.objects.get_or_create(category=row.category, **key)
    StratumCount.objects.filter(pk=target.pk).update(
        count=F("count") + 1,
        impact_sum=F("impact_sum") + weight,
        impact_sq_sum=F("impact_sq_sum") + weight * weight,
    )


@transaction.atomic
def conversation_join(
    *, conversation_ids: Iterable[str], classifier: CategoryClassifier
) -> JoinSummary:
    """Give every record of the conversations its earlier turns and re-classify its category."""
    ids = sorted({c for c in conversation_ids if c})
    linked = recategorised = 0
    for start in range(0, len(ids), BATCH):
        rows = (
            Interaction.objects.filter(conversation_id__in=ids[start : start + BATCH])
            .exclude(source="gold")
            .select_related("model_version")
            .order_by("conversation_id", "turn", "occurred_at", "pk")
        )
        by_conversation: dict[str, list[Interaction]] = {}
        for row in rows:
            by_conversation.setdefault(row.conversation_id, []).append(row)
        for conversation_id, turns in by_conversation.items():
            for row, history in zip(turns, joined_history(turns), strict=True):
                if _own_history(row.earlier_turns) or row.earlier_turns == history:
                    continue
                row.earlier_turns = history
                fields = ["earlier_turns"]
                earlier_users = [t["content"] for t in history if t["role"] == "user"]
                found = classifier.classify(row.prompt, earlier_users)
                if found.slug != row.category:
                    old = row.category
                    row.category, row.category_score = found.slug, found.score
                    row.stratum_key = sampling.stratum_key(
                        row.day, found.slug, row.response_label, row.model_version.name
                    )
                    fields += ["category", "category_score", "stratum_key"]
                    _move_count(row, old)
                    audit_event_record(
                        actor=None,
                        action="interaction.recategorise",
                        obj=row,
                        before={"category": old},
                        after={
                            "category": found.slug,
                            "conversation_id": conversation_id,
                            "reason": "earlier turns of the conversation",
                        },
                    )
                    recategorised += 1
                row.save(update_fields=fields)
                linked += 1
    return JoinSummary(len(ids), linked, recategorised)
