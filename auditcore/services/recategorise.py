"""Re-categorise the stored traffic of a period under a newly published policy version.

A category a new version adds (say "fraud") otherwise only reaches new uploads. The job runs the
version's category classifier over the period's interactions in chunks: each chunk moves the
changed rows to their new category and stratum with one bulk update, keeps StratumCount equal
to the table, and advances the job's checkpoint in the same transaction, so a rerun resumes
after the last finished chunk. Interactions already drawn into rounds are left as they are:
their items keep the stratum, category and policy text they were drawn and judged under.
"""

import datetime as dt
from collections import Counter

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from auditcore import sampling
from auditcore.detection.category import CategoryClassifier
from auditcore.exceptions import ApplicationError
from auditcore.models import (
    GatewayAction,
    Interaction,
    PolicyVersion,
    RecategoriseJob,
    StratumCount,
)
from auditcore.selectors.policy import category_specs, current_policy_version
from auditcore.selectors.recategorise import recategorise_counts, undrawn_chunk
from auditcore.services.audit import audit_event_record

CHUNK_SIZE = 2000
# A StratumCount cell: (day, surface_id, model_version_id, category, outcome, gateway_changed).
Cell = tuple[dt.date, int, int, str, str, bool]


@transaction.atomic
def recategorise_job_create(
    *,
    actor: AbstractBaseUser | None,
    version: PolicyVersion,
    period_start: dt.date,
    period_end: dt.date,
) -> RecategoriseJob:
    """Record a job over the period; the caller enqueues it (tasks.recategorise_job_enqueue)."""
    if not version.is_published:
        raise ApplicationError(
            f"{version} is a draft: publish it before re-categorising traffic under it.",
            {"field": "policy_version"},
        )
    if current_policy_version() != version:
        raise ApplicationError(
            f"{version} is not the current policy version: new traffic is categorised under "
            "the current one, so stored traffic is re-categorised under it too.",
            {"field": "policy_version"},
        )
    if period_start > period_end:
        raise ApplicationError(
            "period_end: the period ends before it starts", {"field": "period_end"}
        )
    total, drawn = recategorise_counts(period_start, period_end)
    job = RecategoriseJob(
        policy_version=version,
        period_start=period_start,
        period_end=period_end,
        total=total,
        drawn=drawn,
        created_by=actor,
    )
    job.full_clean()
    job.save()
    audit_event_record(
        actor=actor,
        action="interaction.recategorise_start",
        obj=job,
        after={
            "policy_version": str(version),
            "period": [period_start.isoformat(), period_end.isoformat()],
            "interactions": total,
            "drawn_kept": drawn,
        },
    )
    return job


def _cell(row: Interaction, category: str) -> Cell:
    changed = row.gateway_action != GatewayAction.NONE
    return (row.day, row.surface_id, row.model_version_id, category, row.response_label, changed)


def _move_counts(moves: list[tuple[Cell, Cell, float]]) -> None:
    """Apply a chunk's moves to StratumCount: one update per cell touched."""
    deltas: dict[Cell, list[float]] = {}
    for old, new, weight in moves:
        for cell, sign in ((old, -1), (new, 1)):
            delta = deltas.setdefault(cell, [0, 0.0, 0.0])
            delta[0] += sign
            delta[1] += sign * weight
            delta[2] += sign * weight * weight
    for (day, surface_id, model_id, category, outcome, changed), (n, w, w2) in deltas.items():
        if n == 0 and w == 0:
            continue
        key = {
            "day": day,
            "surface_id": surface_id,
            "model_version_id": model_id,
            "category": category,
            "outcome": outcome,
            "gateway_changed": changed,
        }
        if n > 0:
            StratumCount.objects.get_or_create(**key)
        StratumCount.objects.filter(**key).update(
            count=F("count") + n,
            impact_sum=F("impact_sum") + w,
            impact_sq_sum=F("impact_sq_sum") + w2,
        )


def _write_categories(rows: list[Interaction]) -> None:
    """One UPDATE joined to arrays for the chunk on PostgreSQL; bulk_update's CASE per row is
    several times slower there (bench/browse_recategorise.py)."""
    if connection.vendor != "postgresql":
        Interaction.objects.bulk_update(
            rows, ["category", "category_score", "stratum_key"], batch_size=500
        )
        return
    table = connection.ops.quote_name(Interaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS i SET category = v.category, category_score = v.score, "  # noqa: S608 - fixed identifiers
            "stratum_key = v.stratum_key FROM unnest(%s::bigint[], %s::text[], %s::float8[], "
            "%s::text[]) AS v(id, category, score, stratum_key) WHERE i.id = v.id",
            [
                [r.pk for r in rows],
                [r.category for r in rows],
                [r.category_score for r in rows],
                [r.stratum_key for r in rows],
            ],
        )


@transaction.atomic
def _process_chunk(job_id: int, classifier: CategoryClassifier, size: int) -> bool:
    """Classify the next chunk; False when the job has nothing left (or is finished)."""
    job = RecategoriseJob.objects.select_for_update().get(pk=job_id)
    if job.is_finished:
        return False
    rows = list(undrawn_chunk(job.period_start, job.period_end, job.last_pk, size))
    if not rows:
        return False
    changed_rows, moves, transitions = [], [], Counter()
    for row in rows:
        turns = row.earlier_turns if isinstance(row.earlier_turns, list) else []
        earlier_users = [
            str(t.get("content", ""))
            for t in turns
            if isinstance(t, dict) and t.get("role") == "user"
        ]
        found = classifier.classify(row.prompt, earlier_users)
        # Only a changed category is written: rewriting every row for a new score would leave
        # the whole period as dead tuples, and autovacuum is off.
        if found.slug == row.category:
            continue
        transitions[f"{row.category}→{found.slug}"] += 1
        moves.append((_cell(row, row.category), _cell(row, found.slug), row.impact_weight))
        row.stratum_key = sampling.stratum_key(
            row.day, found.slug, row.response_label, row.model_version.name
        )
        row.category, row.category_score = found.slug, found.score
        changed_rows.append(row)
    if changed_rows:
        _write_categories(changed_rows)
    _move_counts(moves)
    for key, n in transitions.items():
        job.transitions[key] = job.transitions.get(key, 0) + n
    job.processed += len(rows)
    job.changed += sum(transitions.values())
    job.last_pk = rows[-1].pk
    job.save(update_fields=["processed", "changed", "last_pk", "transitions"])
    return True


def _analyze() -> None:
    """Autovacuum is off: refresh the planner's statistics of the tables a bulk pass changed."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (Interaction, StratumCount):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def recategorise_job_run(*, job_id: int, chunk_size: int = CHUNK_SIZE) -> RecategoriseJob:
    """Run (or resume) a job to its end. Idempotent: a finished job is returned as it is."""
    claimed = RecategoriseJob.objects.filter(
        pk=job_id, status__in=[RecategoriseJob.Status.QUEUED, RecategoriseJob.Status.RUNNING]
    ).update(
        status=RecategoriseJob.Status.RUNNING,
        started_at=Coalesce(F("started_at"), Value(timezone.now())),
    )
    job = RecategoriseJob.objects.select_related("policy_version").get(pk=job_id)
    if not claimed:
        return job
    classifier = CategoryClassifier(category_specs(job.policy_version))
    while _process_chunk(job_id, classifier, chunk_size):
        pass
    _analyze()
    with transaction.atomic():
        job = RecategoriseJob.objects.select_for_update().get(pk=job_id)
        if job.is_finished:
            return job
        job.status, job.finished_at = RecategoriseJob.Status.SUCCEEDED, timezone.now()
        job.save(update_fields=["status", "finished_at"])
        audit_event_record(
            actor=None,
            action="interaction.recategorise_finish",
            obj=job,
            after={"processed": job.processed, "changed": job.changed, "moves": job.transitions},
        )
    return job


def recategorise_job_fail(*, job_id: int, error: str) -> None:
    RecategoriseJob.objects.filter(pk=job_id).exclude(
        status=RecategoriseJob.Status.SUCCEEDED
    ).update(status=RecategoriseJob.Status.FAILED, error=error[:2000], finished_at=timezone.now())
