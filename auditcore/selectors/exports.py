"""Reads for exports: adjudicated label rows, streamed in batches, and the list of past exports."""

import hashlib
import hmac
from collections.abc import Iterator
from itertools import batched
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from auditcore.models import Adjudication, ExportJob, RoundItem, Verdict

DEFAULT_BATCH = 2000

# Columns every export has, in order; TEXT_COLUMNS are added when text is included.
COLUMNS = (
    "item_id",
    "round",
    "external_id",
    "source",
    "occurred_at",
    "surface",
    "model_version",
    "category",
    "policy_version",
    "stratum",
    "inclusion_probability",
    "weight",
    "final_decision",
    "adjudicated_by",
    "adjudicated_at",
    "verdicts",
    "response_label",
    "response_score",
    "served_label",
    "gateway_action",
    "category_score",
    "detector_version",
)
TEXT_COLUMNS = ("prompt", "earlier_turns", "response", "served_response")
VERDICT_FIELDS = (
    "reviewer",
    "decision",
    "reason_code",
    "observed_label",
    "policy_version",
    "locked_at",
    "superseded",
)

_ITEM_FIELDS = (
    "pk",
    "round__name",
    "interaction__external_id",
    "interaction__source",
    "interaction__occurred_at",
    "interaction__surface__name",
    "interaction__model_version__name",
    "interaction__category",
    "policy_version__policy__name",
    "policy_version__number",
    "stratum__stratum_key",
    "inclusion_probability",
    "weight",
    "final_decision",
    "interaction__response_label",
    "interaction__response_score",
    "interaction__served_label",
    "interaction__gateway_action",
    "interaction__category_score",
    "interaction__detector_version",
)
_TEXT_FIELDS = (
    "interaction__prompt",
    "interaction__earlier_turns",
    "interaction__response",
    "interaction__served_response",
)


def reviewer_pseudonym(user_id: int) -> str:
    """A keyed hash of the user id: stable across exports, not reversible without the key."""
    digest = hmac.new(
        settings.PII_HMAC_KEY.encode(), f"reviewer:{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return "rv_" + digest[:16]


def labelled_items(*, round_id: int | None = None) -> QuerySet[RoundItem]:
    """Sampled items with a final label; gold items are left out (they are not in the sample)."""
    items = RoundItem.objects.filter(status=RoundItem.Status.DONE, is_gold=False).exclude(
        final_decision=""
    )
    if round_id is not None:
        items = items.filter(round_id=round_id)
    return items


def label_row_count(*, round_id: int | None = None) -> int:
    return labelled_items(round_id=round_id).count()


def _in_batch(model, item_ids: list[int], round_id: int | None) -> QuerySet:
    """Rows of the batch's items, selected by id range (batches are in id order) rather than a
    long IN list, which costs more to build and send than the rows themselves."""
    rows = model.objects.filter(
        item_id__gte=item_ids[0],
        item_id__lte=item_ids[-1],
        item__status=RoundItem.Status.DONE,
        item__is_gold=False,
    )
    return rows.filter(item__round_id=round_id) if round_id is not None else rows


def _verdicts_by_item(
    item_ids: list[int], round_id: int | None, pseudonyms: dict[int, str]
) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {i: [] for i in item_ids}
    rows = (
        _in_batch(Verdict, item_ids, round_id)
        .order_by("item_id", "locked_at", "pk")
        .values_list(
            "item_id",
            "reviewer_id",
            "decision",
            "reason_code",
            "observed_label",
            "policy_version__policy__name",
            "policy_version__number",
            "locked_at",
            "superseded",
        )
    )
    for item_id, reviewer_id, decision, code, observed, policy, number, locked, old in rows:
        if item_id not in found:
            continue
        if reviewer_id not in pseudonyms:
            pseudonyms[reviewer_id] = reviewer_pseudonym(reviewer_id)
        found[item_id].append(
            {
                "reviewer": pseudonyms[reviewer_id],
                "decision": decision,
                "reason_code": code,
                "observed_label": observed,
                "policy_version": f"{policy} v{number}",
                "locked_at": locked,
                "superseded": old,
            }
        )
    return found


def _adjudications_by_item(item_ids: list[int], round_id: int | None) -> dict[int, tuple[str, Any]]:
    """The latest adjudication of each item: (adjudicator's username, when)."""
    latest: dict[int, tuple[str, Any]] = {}
    rows = (
        _in_batch(Adjudication, item_ids, round_id)
        .order_by("item_id", "created_at", "pk")
        .values_list("item_id", "adjudicator__username", "created_at")
    )
    for item_id, username, created_at in rows:
        latest[item_id] = (username, created_at)
    return latest


def label_rows(
    *, round_id: int | None = None, include_text: bool = False, batch_size: int = DEFAULT_BATCH
) -> Iterator[list[dict[str, Any]]]:
    """Batches of export rows, read with a server-side cursor: memory stays flat."""
    fields = (*_ITEM_FIELDS, *(_TEXT_FIELDS if include_text else ()))
    cursor = (
        labelled_items(round_id=round_id)
        .order_by("pk")
        .values_list(*fields)
        .iterator(chunk_size=batch_size)
    )
    pseudonyms: dict[int, str] = {}
    for batch in batched(cursor, batch_size):
        ids = [row[0] for row in batch]
        verdicts = _verdicts_by_item(ids, round_id, pseudonyms)
        adjudications = _adjudications_by_item(ids, round_id)
        rows = []
        for values in batch:
            r = dict(zip(fields, values, strict=True))
            adjudicated_by, adjudicated_at = adjudications.get(r["pk"], (None, None))
            row = {
                "item_id": r["pk"],
                "round": r["round__name"],
                "external_id": r["interaction__external_id"],
                "source": r["interaction__source"],
                "occurred_at": r["interaction__occurred_at"],
                "surface": r["interaction__surface__name"],
                "model_version": r["interaction__model_version__name"],
                "category": r["interaction__category"],
                "policy_version": (
                    f"{r['policy_version__policy__name']} v{r['policy_version__number']}"
                ),
                "stratum": r["stratum__stratum_key"],
                "inclusion_probability": r["inclusion_probability"],
                "weight": r["weight"],
                "final_decision": r["final_decision"],
                "adjudicated_by": adjudicated_by,
                "adjudicated_at": adjudicated_at,
                "verdicts": verdicts[r["pk"]],
                "response_label": r["interaction__response_label"],
                "response_score": r["interaction__response_score"],
                "served_label": r["interaction__served_label"],
                "gateway_action": r["interaction__gateway_action"],
                "category_score": r["interaction__category_score"],
                "detector_version": r["interaction__detector_version"],
            }
            if include_text:
                row["prompt"] = r["interaction__prompt"]
                row["earlier_turns"] = r["interaction__earlier_turns"] or []
                row["response"] = r["interaction__response"]
                row["served_response"] = r["interaction__served_response"]
            rows.append(row)
        yield rows


def export_jobs_recent(*, limit: int = 50) -> QuerySet[ExportJob]:
    return ExportJob.objects.select_related("round", "created_by").order_by("-created_at", "-pk")[
        :limit
    ]
