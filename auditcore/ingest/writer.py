"""The bulk writer: COPY and one INSERT … ON CONFLICT DO NOTHING on PostgreSQL, a slower path
with the same result on SQLite; both keep the per-stratum counts current."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import orjson
from django.db import connection
from psycopg.types.json import set_json_dumps

from auditcore.ingest.pipeline import PreparedRow
from auditcore.models import Interaction, StratumCount

COLUMNS = (
    "source", "external_id", "occurred_at", "day", "surface_id", "model_version_id",
    "conversation_id", "turn", "prompt", "earlier_turns", "response", "served_response",
    "gateway_action", "user_ref", "user_segment", "impact_weight", "category", "category_score",
    "response_label", "response_score", "served_label", "detector_version", "u", "priority_key",
    "stratum_key", "ingest_job_id", "redaction_count", "metadata", "created_at",
)  # fmt: skip

# (day, surface_id, model_version_id, category, outcome) → [count, Σ impact, Σ impact²]
StratumTally = dict[tuple, list[float]]


def _values(row: PreparedRow, source: str, job_id: int, surface_id: int, model_id: int, now):
    return (
        source, row.external_id, row.occurred_at, row.day, surface_id, model_id,
        row.conversation_id, row.turn, row.prompt, row.earlier_turns, row.response,
        row.served_response, row.gateway_action, row.user_ref, row.user_segment,
        row.impact_weight, row.category, row.category_score, row.response_label,
        row.response_score, row.served_label, row.detector_version, row.u, row.priority_key,
        row.stratum_key, job_id, row.redaction_count, row.metadata, now,
    )  # fmt: skip


def write_rows(
    *,
    rows: Sequence[PreparedRow],
    source: str,
    job_id: int,
    surface_ids: dict[str, int],
    model_ids: dict[str, int],
    now,
) -> StratumTally:
    """Insert the rows that are new; return the stratum tally of those actually inserted.

    Call inside a transaction: the caller commits the rows and its checkpoint together.
    """
    if not rows:
        return {}
    values = [
        _values(r, source, job_id, surface_ids[r.surface], model_ids[r.model], now) for r in rows
    ]
    if connection.vendor == "postgresql":
        inserted = _write_postgresql(values)
    else:
        inserted = _write_portable(values, source)
    tally: StratumTally = defaultdict(lambda: [0, 0.0, 0.0])
    for day, surface_id, model_id, category, outcome, impact in inserted:
        entry = tally[(day, surface_id, model_id, category, outcome)]
        entry[0] += 1
        entry[1] += impact
        entry[2] += impact * impact
    return tally


_TALLY_COLUMNS = "day, surface_id, model_version_id, category, response_label, impact_weight"


def _column_types() -> list[str]:
    """PostgreSQL type names of COLUMNS, read off the model, for the binary COPY."""
    fields = {f.column: f for f in Interaction._meta.concrete_fields}
    return [fields[c].db_type(connection).split("(")[0] for c in COLUMNS]


def _write_postgresql(values: list[tuple]) -> list[tuple]:
    table = Interaction._meta.db_table
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        # Same column types, none of the constraints; emptied at every commit.
        staging = f"SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608 - fixed identifiers
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS ingest_staging ON COMMIT DELETE ROWS AS {staging}"
        )
        # Binary COPY spares both ends the text round trip of dates, numbers and JSON: in
        # bench/ingest.py it costs about half what the text format does.
        set_json_dumps(orjson.dumps, cursor.cursor)
        with cursor.cursor.copy(
            f"COPY ingest_staging ({columns}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_column_types())
            for row in values:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ingest_staging "  # noqa: S608
            f"ON CONFLICT (source, external_id) DO NOTHING RETURNING {_TALLY_COLUMNS}"
        )
        return cursor.fetchall()


_SQLITE_BATCH = 500  # stays under SQLite's limit on bound variables per statement


def _write_portable(values: list[tuple], source: str) -> list[tuple]:
    ids = [v[1] for v in values]
    existing: set[str] = set()
    for start in range(0, len(ids), _SQLITE_BATCH):
        existing.update(
            Interaction.objects.filter(
                source=source, external_id__in=ids[start : start + _SQLITE_BATCH]
            ).values_list("external_id", flat=True)
        )
    fresh = []
    for value in values:
        if value[1] not in existing:
            existing.add(value[1])  # a repeat later in the same chunk is a duplicate too
            fresh.append(value)
    objects = []
    for value in fresh:
        objects.append(Interaction(**dict(zip(COLUMNS, value, strict=True))))
    Interaction.objects.bulk_create(objects, batch_size=_SQLITE_BATCH)
    index = {name: i for i, name in enumerate(COLUMNS)}
    picks = [index[c] for c in ("day", "surface_id", "model_version_id", "category")]
    return [
        (*(v[i] for i in picks), v[index["response_label"]], v[index["impact_weight"]])
        for v in fresh
    ]


def add_to_stratum_counts(tally: StratumTally) -> None:
    """Increment the per-stratum population counts in one statement per stratum."""
    if not tally:
        return
    table = StratumCount._meta.db_table
    sql = (
        f"INSERT INTO {table} "  # noqa: S608 - fixed identifiers
        "(day, surface_id, model_version_id, category, outcome, count, impact_sum, impact_sq_sum) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (day, surface_id, model_version_id, category, outcome) DO UPDATE SET "
        f"count = {table}.count + excluded.count, "
        f"impact_sum = {table}.impact_sum + excluded.impact_sum, "
        f"impact_sq_sum = {table}.impact_sq_sum + excluded.impact_sq_sum"
    )
    params = [(*key, int(c), s, sq) for key, (c, s, sq) in sorted(tally.items())]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
