"""Writes for audit rounds: creation, quotas, the stratified priority draw, gold items, closing.

The draw follows STATISTICS.md. Each record's round-specific u comes from a keyed mix of the
record's stored hash `Interaction.u` (itself a keyed BLAKE2b of the record key) with the round
salt, so u depends only on (record key, round salt): reproducible across databases, independent
between rounds, and a larger quota extends the same ordering. The mix (sampling.mixed_unit) is
computed in numpy over (id, u, size measure) rows read in one scan of the round's frame, by
population cell (the cells StratumCount counts); each cell goes to its stratum under the round's
dimensions (fixed at the first draw, so a later draw extends the same strata), and only strata
still short are drawn. Weights are d = 1/π as drawn. A supplement round shares its first round's
salt and strata and keeps the part of the combined sample the first round does not hold."""

import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from auditcore import sampling
from auditcore.consistency import prompt_digest
from auditcore.exceptions import ApplicationError
from auditcore.models import (
    AuditRound,
    Category,
    Decision,
    GatewayAction,
    GoldItem,
    Interaction,
    Label,
    ModelVersion,
    PolicyVersion,
    RoundItem,
    RoundQuota,
    RoundStratum,
    RoundTemplate,
    Surface,
    Verdict,
)
from auditcore.selectors.rounds import (
    SERVED_VALUES,
    PlanStratum,
    gold_target,
    rereview_items,
    round_overlap,
    round_plan,
)
from auditcore.services.audit import audit_event_record

GOLD_SOURCE = "gold"


# --- Helpers ------------------------------------------------------------------------------------


def _full_clean(obj) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ApplicationError(f"{field}: {' '.join(messages)}", {"field": field}) from exc


def _locked(audit_round: AuditRound) -> AuditRound:
    return AuditRound.objects.select_for_update().get(pk=audit_round.pk)


def _require_editable(audit_round: AuditRound) -> None:
    if audit_round.status == AuditRound.Status.CLOSED:
        raise ApplicationError(f"{audit_round} is closed and cannot change.", {"field": "status"})
    if audit_round.status == AuditRound.Status.DRAWING:
        raise ApplicationError(
            f"{audit_round} is being drawn; wait for the draw to finish.", {"field": "status"}
        )


def _round_state(audit_round: AuditRound) -> dict:
    return {
        "name": audit_round.name,
        "status": audit_round.status,
        "period": [audit_round.period_start.isoformat(), audit_round.period_end.isoformat()],
        "policy_version": audit_round.policy_version_id,
        "size_measure": audit_round.size_measure,
        "double_review_share": audit_round.double_review_share,
        "gold_rate": audit_round.gold_rate,
        "budget": audit_round.budget,
        "supplement_of": audit_round.supplement_of_id,
    }


# --- Rounds -------------------------------------------------------------------------------------


def _check_disjoint(
    *,
    period_start: date,
    period_end: date,
    surfaces: list[Surface],
    model_versions: list[ModelVersion],
) -> None:
    overlap = round_overlap(
        period_start=period_start,
        period_end=period_end,
        surface_ids={s.pk for s in surfaces},
        model_version_ids={m.pk for m in model_versions},
    )
    if overlap is not None:
        other = overlap.audit_round
        raise ApplicationError(
            f"period_start: this round's frame overlaps round {other.name!r} ({overlap.frame}). "
            "Rounds must not share records: choose another period, other surfaces or other "
            f"model versions, or create this round as a supplement of {other.name!r}.",
            {"field": "period_start", "code": "overlap", "round": other.pk},
        )


@transaction.atomic
def round_create(
    *,
    actor: AbstractBaseUser | None,
    name: str,
    policy_version: PolicyVersion,
    period_start: date | None = None,
    period_end: date | None = None,
    surfaces: Iterable[Surface] = (),
    model_versions: Iterable[ModelVersion] = (),
    size_measure: str = "uniform",
    double_review_share: float = 0.2,
    gold_rate: float = 0.0,
    budget: int = 0,
    supplement_of: AuditRound | None = None,
    template: RoundTemplate | None = None,
) -> AuditRound:
    """A draft round over a frame no other round covers, or a supplement of a drawn round.

    A supplement is a second-phase draw from the first round's unsampled remainder: it takes
    the first round's frame, salt, size measure and strata, so its keys extend the same order.
    """
    if not policy_version.is_published:
        raise ApplicationError(
            "policy_version: a round reviews under a published policy version",
            {"field": "policy_version"},
        )
    surfaces, model_versions = list(surfaces), list(model_versions)
    salt, dims = secrets.token_hex(16), None
    if supplement_of is not None:
        first = AuditRound.objects.select_for_update().get(pk=supplement_of.pk)
        if first.supplement_of_id is not None:
            raise ApplicationError(
                f"supplement_of: {first.name!r} is itself a supplement; supplement "
                f"{first.supplement_of.name!r} instead",
                {"field": "supplement_of"},
            )
        if first.strata_dims is None:
            raise ApplicationError(
                f"supplement_of: {first.name!r} has not been drawn; a supplement draws from "
                "what it left unsampled",
                {"field": "supplement_of"},
            )
        other = AuditRound.objects.filter(supplement_of=first).first()
        if other is not None:
            # A second supplement would draw from the remainder the first one already took.
            raise ApplicationError(
                f"supplement_of: {first.name!r} already has a supplement, {other.name!r}; "
                f"grow that round's budget instead",
                {"field": "supplement_of"},
            )
        period_start, period_end = first.period_start, first.period_end
        surfaces, model_versions = list(first.surfaces.all()), list(first.model_versions.all())
        salt, dims, size_measure = first.salt, first.strata_dims, first.size_measure
    elif period_start is None or period_end is None:
        raise ApplicationError("period_start: a round needs a period", {"field": "period_start"})
    if period_start > period_end:
        raise ApplicationError(
            "period_end: the period must end on or after its start", {"field": "period_end"}
        )
    if AuditRound.objects.filter(name=name).exists():
        raise ApplicationError(f"name: a round named {name!r} exists", {"field": "name"})
    if supplement_of is None:
        _check_disjoint(
            period_start=period_start,
            period_end=period_end,
            surfaces=surfaces,
            model_versions=model_versions,
        )
    audit_round = AuditRound(
        name=name,
        policy_version=policy_version,
        period_start=period_start,
        period_end=period_end,
        size_measure=size_measure,
        double_review_share=double_review_share,
        gold_rate=gold_rate,
        budget=budget,
        salt=salt,
        strata_dims=dims,
        supplement_of=supplement_of,
        template=template,
        created_by=actor,
    )
    _full_clean(audit_round)
    audit_round.save()
    audit_round.surfaces.set(surfaces)
    audit_round.model_versions.set(model_versions)
    audit_event_record(
        actor=actor, action="round.create", obj=audit_round, after=_round_state(audit_round)
    )
    return audit_round


# About the 246 items an interval of ±5 points around a 20% rate needs (STATISTICS.md).
DEFAULT_WEEKLY_BUDGET = 250


def last_week(today: date) -> tuple[date, date]:
    """Monday to Sunday of the ISO week before `today`'s."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def _parse_template_quotas(template: RoundTemplate) -> dict[tuple[str, str], int]:
    quotas = {}
    for cell, n in (template.quotas or {}).items():
        category, _, outcome = str(cell).partition("/")
        if not category or not outcome or not isinstance(n, int) or n < 0:
            raise ApplicationError(
                f"quotas: template {template.name!r} has a bad quota {cell!r}: {n!r}; "
                'expected "category/outcome": a whole number',
                {"field": "quotas"},
            )
        quotas[(category, outcome)] = n
    return quotas


@dataclass(frozen=True)
class OpenedRound:
    audit_round: AuditRound
    created: bool
    drawing: bool
    problem: str = ""  # why the draw did not start (the plan does not fit), if it did not
    # This call claimed the round for a draw, so its caller queues the draw (an earlier call's
    # draw may still be queued or running when `drawing` alone is true).
    draw_requested: bool = False


def round_open_last_week(
    *,
    actor: AbstractBaseUser | None,
    today: date | None = None,
    template: RoundTemplate | None = None,
    budget: int | None = None,
) -> OpenedRound:
    """Open (create and start drawing) the round over last week; once per week and template.

    A second call in the same week finds the round it opened and opens nothing new. The round
    takes the template's quotas, budget, double-review share and size measure, or defaults.
    """
    start, end = last_week(today or timezone.now().date())
    iso = start.isocalendar()
    name = f"{template.name if template else 'Week'} {iso.year}-W{iso.week:02d}"
    with transaction.atomic():
        if template is not None:
            template = RoundTemplate.objects.select_for_update().get(pk=template.pk)
        existing = AuditRound.objects.filter(name=name).first()
        if existing is None and template is not None:
            existing = AuditRound.objects.filter(template=template, period_start=start).first()
        if existing is not None:
            if existing.status == AuditRound.Status.DRAFT:
                # Opened before last week's records arrived: a rerun draws it now if it can.
                return _open_draw(actor=actor, audit_round=existing, created=False)
            return OpenedRound(existing, False, existing.status == AuditRound.Status.DRAWING)
        versions = PolicyVersion.objects.filter(status=PolicyVersion.Status.PUBLISHED)
        if template is not None:
            versions = versions.filter(policy=template.policy)
        policy_version = versions.order_by("-published_at", "-pk").first()
        if policy_version is None:
            raise ApplicationError(
                "policy_version: no published policy version to review last week under",
                {"field": "policy_version"},
            )
        settings_ = {}
        if template is not None:
            settings_ = {
                "surfaces": list(template.surfaces.all()),
                "model_versions": list(template.model_versions.all()),
                "size_measure": template.size_measure,
                "double_review_share": template.double_review_share,
                "gold_rate": template.gold_rate,
            }
        default_budget = template.budget if template is not None else DEFAULT_WEEKLY_BUDGET
        audit_round = round_create(
            actor=actor,
            name=name,
            policy_version=policy_version,
            period_start=start,
            period_end=end,
            budget=default_budget if budget is None else budget,
            template=template,
            **settings_,
        )
        if template is not None and template.quotas:
            round_quotas_set(
                actor=actor, audit_round=audit_round, quotas=_parse_template_quotas(template)
            )
        return _open_draw(actor=actor, audit_round=audit_round, created=True)


def _open_draw(
    *, actor: AbstractBaseUser | None, audit_round: AuditRound, created: bool
) -> OpenedRound:
    plan = round_plan(audit_round)
    if not plan.fits or not plan.planned_total:
        problem = plan.problem or "No records in last week's frame yet; nothing to draw."
        return OpenedRound(audit_round, created, False, problem)
    audit_round = round_draw_request(actor=actor, audit_round=audit_round)
    return OpenedRound(audit_round, created, True, draw_requested=True)


def round_templates_open_due(*, today: date | None = None) -> list[OpenedRound]:
    """The scheduled check: every active template past its weekday opens last week's round."""
    today = today or timezone.now().date()
    opened = []
    for template in RoundTemplate.objects.filter(active=True, weekday__lte=today.weekday()):
        try:
            opened.append(round_open_last_week(actor=None, today=today, template=template))
        except ApplicationError as exc:
            # One template's problem (an overlapping round, no published policy) must not stop
            # the others; it is recorded where a lead looks for it.
            audit_event_record(
                actor=None,
                action="round.schedule_failed",
                obj=template,
                after={"message": exc.message},
            )
    return opened


@transaction.atomic
def round_quotas_set(
    *,
    actor: AbstractBaseUser | None,
    audit_round: AuditRound,
    quotas: dict[tuple[str, str], int],
    budget: int | None = None,
) -> AuditRound:
    """Set the floors per category × outcome (0 removes one) and optionally the budget."""
    audit_round = _locked(audit_round)
    _require_editable(audit_round)
    outcomes = {value for value, _ in Label.choices}
    current = {(q.category, q.outcome): q for q in RoundQuota.objects.filter(round=audit_round)}
    before = {f"{c}/{o}": q.min_items for (c, o), q in current.items()}
    for (category, outcome), min_items in quotas.items():
        if outcome not in outcomes:
            raise ApplicationError(f"outcome: unknown outcome {outcome!r}", {"field": "outcome"})
        if min_items is None or min_items < 0:
            raise ApplicationError(
                f"quota {category}/{outcome}: must be a whole number ≥ 0", {"field": "min_items"}
            )
        quota = current.get((category, outcome))
        if min_items == 0:
            if quota is not None:
                quota.delete()
            continue
        if quota is None:
            quota = RoundQuota(round=audit_round, category=category, outcome=outcome)
        quota.min_items = min_items
        _full_clean(quota)
        quota.save()
    after_quotas = {
        f"{q.category}/{q.outcome}": q.min_items
        for q in RoundQuota.objects.filter(round=audit_round)
    }

    budget_before = audit_round.budget
    if budget is not None:
        if budget < 0:
            raise ApplicationError("budget: must be ≥ 0", {"field": "budget"})
        audit_round.budget = budget
        audit_round.save(update_fields=["budget"])
    if after_quotas != before or budget_before != audit_round.budget:
        audit_event_record(
            actor=actor,
            action="round.quotas",
            obj=audit_round,
            before={"quotas": before, "budget": budget_before},
            after={"quotas": after_quotas, "budget": audit_round.budget},
        )
    return audit_round


@transaction.atomic
def round_draw_request(*, actor: AbstractBaseUser | None, audit_round: AuditRound) -> AuditRound:
    """Claim the round for a draw; the caller queues the draw (tasks.round_draw_enqueue)."""
    audit_round = _locked(audit_round)
    _require_editable(audit_round)
    plan = round_plan(audit_round)
    if not plan.fits:
        raise ApplicationError(plan.problem, {"field": "budget"})
    audit_round.status = AuditRound.Status.DRAWING
    audit_round.draw_progress = 0.0
    audit_round.draw_error = ""
    audit_round.save(update_fields=["status", "draw_progress", "draw_error"])
    audit_event_record(
        actor=actor, action="round.draw", obj=audit_round, after=_round_state(audit_round)
    )
    return audit_round


_PG_ARRAYS_SQL = """
SELECT day, surface_id, model_version_id, category, response_label, gateway_action <> %s,
       array_agg(id), array_agg(u), array_agg({size})
FROM {table}
WHERE day >= %s AND day <= %s AND source <> %s {scope}
GROUP BY 1, 2, 3, 4, 5, 6
"""


def _fetch_strata(audit_round: AuditRound, dims: Sequence[str]) -> dict[str, np.ndarray]:
    """(id, u, size source) per stratum key of the round's frame, as (N, 3) float arrays.

    The size source is the impact weight, or the session importance (_size_column).

    Rows are read by population cell (day × surface × model × category × outcome × served, the
    cells StratumCount counts) and each cell goes to its stratum under the round's dimensions. On
    PostgreSQL one scan with array_agg in binary beats many index reads scattered over the heap.
    """
    surfaces = [s.pk for s in audit_round.surfaces.all()]
    models = [m.pk for m in audit_round.model_versions.all()]
    cells: list[tuple[tuple, list]] = []
    if connection.vendor == "postgresql":
        scope = ""
        params = [GatewayAction.NONE, audit_round.period_start, audit_round.period_end, GOLD_SOURCE]
        if surfaces:
            scope += " AND surface_id = ANY(%s)"
            params.append(surfaces)
        if models:
            scope += " AND model_version_id = ANY(%s)"
            params.append(models)
        sql = _PG_ARRAYS_SQL.format(
            table=Interaction._meta.db_table, scope=scope, size=_size_column(audit_round)
        )
        import psycopg  # only on PostgreSQL

        connection.ensure_connection()
        # Django's cursors bind client-side, which cannot return binary; arrays load far faster
        # in binary, so this read uses a server-binding cursor on the same connection.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            for *cell, ids, us, weights in cursor:
                rows = np.column_stack(
                    [np.array(ids, dtype=float), np.array(us), np.array(weights)]
                )
                cells.append((tuple(cell), rows))
    else:
        rows = Interaction.objects.filter(
            day__gte=audit_round.period_start, day__lte=audit_round.period_end
        ).exclude(source=GOLD_SOURCE)
        if surfaces:
            rows = rows.filter(surface_id__in=surfaces)
        if models:
            rows = rows.filter(model_version_id__in=models)
        grouped: dict[tuple, list] = {}
        for day, surface, model, category, label, action, *values in rows.order_by().values_list(
            "day",
            "surface_id",
            "model_version_id",
            "category",
            "response_label",
            "gateway_action",
            "id",
            "u",
            _size_column(audit_round),
        ):
            cell = (day, surface, model, category, label, action != GatewayAction.NONE)
            grouped.setdefault(cell, []).append(values)
        cells = [(cell, np.array(v, dtype=float)) for cell, v in grouped.items()]

    surface_names = dict(Surface.objects.values_list("pk", "name"))
    model_names = dict(ModelVersion.objects.values_list("pk", "name"))
    parts: dict[str, list[np.ndarray]] = {}
    for (day, surface, model, category, label, changed), rows in cells:
        cell = sampling.Cell(
            category=category,
            outcome=label,
            served=SERVED_VALUES[bool(changed)],
            surface=surface_names[surface],
            model_version=model_names[model],
            day=day.isoformat(),
            population=len(rows),
        )
        key = sampling.round_stratum_key(cell.parts(dims))
        parts.setdefault(key, []).append(rows)
    # Sorted by record id, so a stratum's order does not depend on how the database grouped it.
    out = {}
    for key, chunks in parts.items():
        rows = np.concatenate(chunks)
        out[key] = rows[np.argsort(rows[:, 0], kind="stable")]
    return out


def _size_column(audit_round: AuditRound) -> str:
    """The Interaction column the size measure is read from (a fixed name, never user text)."""
    if audit_round.size_measure in sampling.SESSION_MEASURES:
        return "session_importance"
    return "impact_weight"


@dataclass
class _StratumDrawn:
    plan: PlanStratum
    population: int
    tau: float | None
    ids: np.ndarray
    pi: np.ndarray
    weights: np.ndarray
    required: np.ndarray
    queue_order: np.ndarray


def _draw_arrays(
    audit_round: AuditRound,
    s: PlanStratum,
    rows: np.ndarray,
    n: int,
    keep: Sequence[int],
    first_phase: Sequence[int] = (),
) -> _StratumDrawn:
    """The stratum's n smallest keys (or more, to keep every drawn item), with τ and π.

    For a supplement, `first_phase` holds the first round's items: the combined sample is drawn
    (its τ and π are the combined design's) and the supplement keeps what the first round lacks.
    """
    x = sampling.size_measures(rows[:, 2], audit_round.size_measure)
    keys = sampling.priority_key(sampling.round_u(rows[:, 1], audit_round.salt), x)
    kept = np.isin(rows[:, 0].astype(np.int64), np.asarray(keep, dtype=np.int64))
    if kept.any():
        # Late records can hold smaller keys than items already drawn. The sample then grows to
        # every key up to the largest drawn one, so no drawn item (nor its verdicts) leaves and
        # all items share the new τ.
        n = max(n, int(np.count_nonzero(keys <= keys[kept].max())))
    draw = sampling.draw_stratum(keys, x, n)
    ids = rows[draw.indices, 0].astype(np.int64)
    mine = ~np.isin(ids, np.asarray(first_phase, dtype=np.int64))
    chosen_u = rows[draw.indices[mine], 1]
    double = (
        sampling.mixed_unit(chosen_u, audit_round.salt, "double") <= audit_round.double_review_share
    )
    return _StratumDrawn(
        plan=s,
        population=len(rows),
        tau=draw.tau,
        ids=ids[mine],
        pi=draw.pi[mine],
        # d = 1/π as drawn (STATISTICS.md): calibrating tiny strata to N_h biases the estimate.
        weights=1.0 / draw.pi[mine],
        required=np.where(double, 2, 1),
        queue_order=sampling.mixed_unit(chosen_u, audit_round.salt, "queue"),
    )


def _insert_items(audit_round: AuditRound, stratum: RoundStratum, d: _StratumDrawn, mask) -> None:
    if not mask.any():
        return
    columns = {
        "interaction_id": (d.ids[mask], "bigint"),
        "inclusion_probability": (d.pi[mask], "double precision"),
        "weight": (d.weights[mask], "double precision"),
        "required_reviews": (d.required[mask], "integer"),
        "queue_order": (d.queue_order[mask], "double precision"),
    }
    constants = {
        "round_id": audit_round.pk,
        "stratum_id": stratum.pk,
        "policy_version_id": audit_round.policy_version_id,
        "created_at": timezone.now(),
    }
    if connection.vendor != "postgresql":
        arrays = {name: values.tolist() for name, (values, _) in columns.items()}
        RoundItem.objects.bulk_create(
            [
                RoundItem(**constants, **{name: arrays[name][i] for name in arrays})
                for i in range(int(mask.sum()))
            ],
            batch_size=500,
            ignore_conflicts=True,
        )
        return
    # Every other column takes its model default, so fields added later need no change here.
    names, selects, params = [], [], []
    for field in RoundItem._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(connection.ops.quote_name(field.column))
        if field.attname in columns:
            selects.append(f"t.{field.attname}")
            continue
        value = constants[field.attname] if field.attname in constants else field.get_default()
        selects.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    unnest = ", ".join(f"%s::{sql_type}[]" for _, sql_type in columns.values())
    params += [values.tolist() for values, _ in columns.values()]
    # Identifiers come from the model's metadata; every value is a bound parameter.
    sql = (
        f"INSERT INTO {RoundItem._meta.db_table} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {', '.join(selects)} FROM unnest({unnest}) AS t({', '.join(columns)}) "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _update_items(item_ids: list[int], pi: list[float], weights: list[float]) -> None:
    if not item_ids:
        return
    if connection.vendor != "postgresql":
        items = [
            RoundItem(pk=i, inclusion_probability=p, weight=w)
            for i, p, w in zip(item_ids, pi, weights, strict=True)
        ]
        RoundItem.objects.bulk_update(items, ["inclusion_probability", "weight"], batch_size=500)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RoundItem._meta.db_table} AS r "  # noqa: S608 - table name from the model
            "SET inclusion_probability = t.p, weight = t.w "
            "FROM unnest(%s::bigint[], %s::double precision[], %s::double precision[]) "
            "AS t(id, p, w) WHERE r.id = t.id",
            [item_ids, pi, weights],
        )


@dataclass(frozen=True)
class _Names:
    surfaces: dict[str, int]
    models: dict[str, int]


def _store_stratum(audit_round: AuditRound, d: _StratumDrawn, names: _Names) -> int:
    s = d.plan
    stratum = RoundStratum.objects.filter(round=audit_round, stratum_key=s.key).first()
    if stratum is None:
        stratum = RoundStratum(round=audit_round, stratum_key=s.key, salt=audit_round.salt)
    stratum.day = s.day
    stratum.category = s.category
    stratum.outcome = s.outcome
    stratum.gateway_changed = s.gateway_changed
    stratum.surface_id = names.surfaces.get(s.surface) if s.surface is not None else None
    stratum.model_version_id = (
        names.models.get(s.model_version) if s.model_version is not None else None
    )
    stratum.population = d.population
    stratum.planned = s.planned
    stratum.sampled = len(d.ids)
    stratum.tau = d.tau
    stratum.drawn = True
    stratum.save()

    existing = {
        interaction_id: (item_id, pi, weight)
        for item_id, interaction_id, pi, weight in RoundItem.objects.filter(
            stratum=stratum
        ).values_list("id", "interaction_id", "inclusion_probability", "weight")
    }
    is_new = np.array([i not in existing for i in d.ids.tolist()], dtype=bool)
    _insert_items(audit_round, stratum, d, is_new)
    # A grown stratum: the combined sample is the n' smallest keys, all under the new τ.
    changed_ids, changed_pi, changed_w = [], [], []
    for i in np.flatnonzero(~is_new).tolist():
        item_id, pi, weight = existing[int(d.ids[i])]
        if pi != float(d.pi[i]) or weight != float(d.weights[i]):
            changed_ids.append(item_id)
            changed_pi.append(float(d.pi[i]))
            changed_w.append(float(d.weights[i]))
    _update_items(changed_ids, changed_pi, changed_w)
    return int(is_new.sum())


def _mix_gold(audit_round: AuditRound) -> int:
    sampled = RoundItem.objects.filter(round=audit_round, is_gold=False).count()
    have = RoundItem.objects.filter(round=audit_round, is_gold=True).count()
    want = gold_target(sampled, audit_round.gold_rate) - have
    if want <= 0:
        return 0
    pool = list(
        GoldItem.objects.filter(active=True)
        .exclude(
            interaction_id__in=RoundItem.objects.filter(round=audit_round).values("interaction_id")
        )
        .values_list("interaction_id", "interaction__u", "expected")
    )
    if not pool:
        return 0
    order = sampling.mixed_unit(np.array([u for _, u, _ in pool]), audit_round.salt, "gold")
    queue = sampling.mixed_unit(np.array([u for _, u, _ in pool]), audit_round.salt, "queue")
    picked = np.argsort(order, kind="stable")[:want]
    RoundItem.objects.bulk_create(
        [
            RoundItem(
                round=audit_round,
                interaction_id=pool[i][0],
                is_gold=True,
                gold_decision=pool[i][2],
                inclusion_probability=1.0,
                weight=0.0,
                required_reviews=1,
                policy_version_id=audit_round.policy_version_id,
                queue_order=float(queue[i]),
            )
            for i in picked.tolist()
        ],
        ignore_conflicts=True,
    )
    return len(picked)


def _items_by_stratum(round_id: int, keys: list[str]) -> dict[str, list[int]]:
    items: dict[str, list[int]] = defaultdict(list)
    for key, interaction_id in RoundItem.objects.filter(
        round_id=round_id, stratum__stratum_key__in=keys
    ).values_list("stratum__stratum_key", "interaction_id"):
        items[key].append(interaction_id)
    return items


def _progress(round_id: int, share: float) -> None:
    AuditRound.objects.filter(pk=round_id).update(draw_progress=share)


def round_draw(*, round_id: int) -> AuditRound | None:
    """Draw (or extend) the sample of a round claimed by round_draw_request. Idempotent.

    Refused while the plan does not fit the budget. Reads the frame in one pass, draws the
    strata whose plan grew or whose N changed in numpy, then writes all strata and items in one
    transaction. A rerun recomputes the same keys, keeps existing items and adds only what is
    missing.
    """
    audit_round = AuditRound.objects.filter(pk=round_id).first()
    if audit_round is None or audit_round.status != AuditRound.Status.DRAWING:
        return audit_round
    try:
        plan = round_plan(audit_round)
        if not plan.fits:
            raise ApplicationError(plan.problem, {"field": "budget"})
        dims = audit_round.strata_dims or plan.dims
        stored = {
            key: (sampled, population)
            for key, sampled, population in RoundStratum.objects.filter(
                round=audit_round, drawn=True
            ).values_list("stratum_key", "sampled", "population")
        }
        # A stratum is redrawn when its quota grew or late records changed its N: every item of
        # it then gets the new τ and π, never only the items added.
        todo = [
            s
            for s in plan.strata
            if s.key not in stored
            or s.planned > stored[s.key][0]
            or s.population != stored[s.key][1]
        ]
        _progress(round_id, 0.05)
        rows = _fetch_strata(audit_round, dims) if todo else {}
        keep = _items_by_stratum(audit_round.pk, [s.key for s in todo])
        first_phase = (
            _items_by_stratum(audit_round.supplement_of_id, [s.key for s in todo])
            if audit_round.supplement_of_id
            else defaultdict(list)
        )
        _progress(round_id, 0.6)
        draws = [
            _draw_arrays(
                audit_round,
                s,
                rows.pop(s.key, np.empty((0, 3))),
                max(s.planned, stored.get(s.key, (0, 0))[0]) + len(first_phase[s.key]),
                keep[s.key] + first_phase[s.key],
                first_phase[s.key],
            )
            for s in todo
        ]
        names = _Names(
            dict(Surface.objects.values_list("name", "pk")),
            dict(ModelVersion.objects.values_list("name", "pk")),
        )
        _progress(round_id, 0.7)
        # One transaction for every write: a crash leaves the earlier state, and a rerun redoes it.
        with transaction.atomic():
            if audit_round.strata_dims is None:
                AuditRound.objects.filter(pk=round_id).update(strata_dims=list(dims))
            added = sum(_store_stratum(audit_round, d, names) for d in draws)
            gold = _mix_gold(audit_round)
    except Exception as exc:
        AuditRound.objects.filter(pk=round_id, status=AuditRound.Status.DRAWING).update(
            status=AuditRound.Status.OPEN
            if RoundItem.objects.filter(round_id=round_id).exists()
            else AuditRound.Status.DRAFT,
            draw_error=f"{exc.__class__.__name__}: {exc}"[:2000],
        )
        raise
    AuditRound.objects.filter(pk=round_id, status=AuditRound.Status.DRAWING).update(
        status=AuditRound.Status.OPEN, draw_progress=1.0, drawn_at=timezone.now()
    )
    audit_round.refresh_from_db()
    audit_event_record(
        actor=None,
        action="round.drawn",
        obj=audit_round,
        after={"strata_drawn": len(todo), "items_added": added, "gold_added": gold},
    )
    return audit_round


@transaction.atomic
def round_close(
    *,
    actor: AbstractBaseUser | None,
    audit_round: AuditRound,
    policy_version: PolicyVersion | None = None,
) -> AuditRound:
    """Close the round; with `policy_version`, only if the round was drawn under that version
    (the one its confirmation page named)."""
    audit_round = _locked(audit_round)
    _require_editable(audit_round)
    if policy_version is not None and audit_round.policy_version_id != policy_version.pk:
        raise ApplicationError(
            f"policy_version: {audit_round} is not under {policy_version}; nothing was closed.",
            {"field": "policy_version"},
        )
    before = audit_round.status
    audit_round.status = AuditRound.Status.CLOSED
    audit_round.closed_at = timezone.now()
    audit_round.save(update_fields=["status", "closed_at"])
    audit_event_record(
        actor=actor,
        action="round.close",
        obj=audit_round,
        before={"status": before},
        after={"status": "closed"},
    )
    return audit_round


# --- Gold items ---------------------------------------------------------------------------------


def _check_expected(expected: str) -> None:
    if expected not in (Decision.HELP, Decision.DECLINE):
        raise ApplicationError(
            "expected: a gold item's answer is help or decline", {"field": "expected"}
        )


@transaction.atomic
def gold_item_mark(
    *, actor: AbstractBaseUser | None, interaction: Interaction, expected: str, note: str = ""
) -> GoldItem:
    """Mark an ingested interaction as gold with its expected verdict."""
    _check_expected(expected)
    if GoldItem.objects.filter(interaction=interaction).exists():
        raise ApplicationError(
            f"interaction: {interaction} is already a gold item", {"field": "interaction"}
        )
    gold = GoldItem(interaction=interaction, expected=expected, note=note, created_by=actor)
    _full_clean(gold)
    gold.save()
    audit_event_record(
        actor=actor, action="gold.mark", obj=gold, after={"expected": expected, "note": note}
    )
    return gold


@transaction.atomic
def gold_item_write(
    *,
    actor: AbstractBaseUser | None,
    prompt: str,
    expected: str,
    category: str,
    note: str = "",
    response: str = "",
) -> GoldItem:
    """A gold item written as a prompt: it gets an Interaction row with source "gold"."""
    _check_expected(expected)
    prompt = prompt.strip()
    if not prompt:
        raise ApplicationError("prompt: a gold prompt cannot be empty", {"field": "prompt"})
    surface, _ = Surface.objects.get_or_create(name=GOLD_SOURCE)
    model, _ = ModelVersion.objects.get_or_create(name=GOLD_SOURCE)
    now = timezone.now()
    external_id = secrets.token_hex(12)
    u = sampling.record_u(f"{GOLD_SOURCE}:{external_id}", GOLD_SOURCE)
    label = Label.COMPLIANCE
    interaction = Interaction(
        source=GOLD_SOURCE,
        external_id=external_id,
        occurred_at=now,
        day=now.date(),
        surface=surface,
        model_version=model,
        prompt=prompt,
        prompt_digest=prompt_digest(prompt),
        # Reviewers see this after their verdict locks, like any response.
        response=response.strip() or "(a gold prompt written by a safety lead; no model answer)",
        category=category,
        response_label=label,
        served_label=label,
        detector_version=GOLD_SOURCE,
        u=u,
        priority_key=u,
        stratum_key=sampling.stratum_key(now.date(), category, label, GOLD_SOURCE),
    )
    _full_clean(interaction)
    interaction.save()
    return gold_item_mark(actor=actor, interaction=interaction, expected=expected, note=note)


@transaction.atomic
def gold_item_deactivate(*, actor: AbstractBaseUser | None, gold: GoldItem) -> GoldItem:
    gold.active = False
    gold.save(update_fields=["active"])
    audit_event_record(actor=actor, action="gold.deactivate", obj=gold, after={"active": False})
    return gold


# --- Re-review under a new policy version -------------------------------------------------------


@transaction.atomic
def round_items_rereview(
    *,
    actor: AbstractBaseUser | None,
    policy_version: PolicyVersion,
    category: str,
    from_version: PolicyVersion,
) -> int:
    """Send a category's items in open rounds drawn under `from_version` back for review under a
    newer published version; rounds drawn under any other version are left alone.

    Old verdicts stay, marked superseded; the items wait for fresh verdicts.
    """
    if not policy_version.is_published:
        raise ApplicationError(
            "policy_version: re-review needs a published version", {"field": "policy_version"}
        )
    if not Category.objects.filter(policy_version=policy_version, slug=category).exists():
        raise ApplicationError(
            f"category: {category!r} is not in {policy_version}", {"field": "category"}
        )
    if (
        from_version.policy_id != policy_version.policy_id
        or from_version.number >= policy_version.number
    ):
        raise ApplicationError(
            f"from_version: choose an earlier version of {policy_version.policy}",
            {"field": "from_version"},
        )
    items = rereview_items(
        policy_version=policy_version, category=category, from_version=from_version
    ).select_for_update(of=("self",))
    ids = list(items.values_list("id", flat=True))
    if not ids:
        return 0
    Verdict.objects.filter(item_id__in=ids, superseded=False).update(superseded=True)
    RoundItem.objects.filter(id__in=ids).update(
        policy_version=policy_version,
        status=RoundItem.Status.PENDING,
        verdict_count=0,
        final_decision="",
    )
    audit_event_record(
        actor=actor,
        action="round.rereview",
        obj=policy_version,
        after={"category": category, "items": len(ids), "from_version": str(from_version)},
    )
    return len(ids)


# --- Reviewer assignment ------------------------------------------------------------------------


@transaction.atomic
def round_reviewers_assign(
    *, actor: AbstractBaseUser | None, audit_round: AuditRound, reviewers: list
) -> AuditRound:
    """Set the reviewers who work the round; none means every reviewer. Audited.

    Leases already taken stay with their holders until they lapse or are judged.
    """
    audit_round = _locked(audit_round)
    if audit_round.status == AuditRound.Status.CLOSED:
        raise ApplicationError(
            f"round: {audit_round} is closed; its reviewers no longer change.", {"field": "round"}
        )
    before = sorted(audit_round.reviewers.values_list("username", flat=True))
    audit_round.reviewers.set(reviewers)
    after = sorted(r.get_username() for r in reviewers)
    audit_event_record(
        actor=actor,
        action="round.assign",
        obj=audit_round,
        before={"reviewers": before},
        after={"reviewers": after},
    )
    return audit_round
