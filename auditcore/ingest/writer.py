"""The bulk writer: new rows only (ids already stored, and repeats within a batch, are left out),
by COPY on PostgreSQL and bulk_create on SQLite; both keep the per-stratum counts current."""

from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from collections.abc import Sequence

import orjson
from django.db import IntegrityError, connection, transaction
from psycopg.errors import UniqueViolation
from psycopg.types.string import BytesBinaryDumper

from auditcore.ingest.pipeline import PreparedRow
from auditcore.models import GatewayAction, Interaction, StratumCount

# The row's JSON fields, which PostgreSQL receives already encoded (see write_rows); a test checks
# that they are the table's JSON columns.
JSON_FIELDS = ("earlier_turns", "metadata")
# A row's own fields, then what the writer adds (the job's, the looked-up surface and model), then
# the JSON fields.
_ROW_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(PreparedRow)
    if f.metadata.get("column", f.name) is not None and f.name not in JSON_FIELDS
)
COLUMNS = (
    *_ROW_FIELDS, "source", "ingest_job_id", "created_at", "surface_id", "model_version_id",
    *JSON_FIELDS,
)  # fmt: skip
_row_values = operator.attrgetter(*_ROW_FIELDS)

# jsonb's binary format: a version byte, then the JSON text.
_JSONB_VERSION = b"\x01"

# (day, surface_id, model_version_id, category, outcome, gateway_changed)
#   → [count, Σ impact, Σ impact²]
StratumTally = dict[tuple, list[float]]


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
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        # The JSON fields go to the binary COPY in jsonb's own format: psycopg's jsonb dumper
        # would run in Python for every value (bench/README.md).
        dumps, version = orjson.dumps, _JSONB_VERSION
        values = [
            (
                *_row_values(r), source, job_id, now, surface_ids[r.surface], model_ids[r.model],
                version + dumps(r.earlier_turns), version + dumps(r.metadata),
            )
            for r in rows
        ]  # fmt: skip
    else:
        values = [
            (
                *_row_values(r), source, job_id, now, surface_ids[r.surface], model_ids[r.model],
                r.earlier_turns, r.metadata,
            )
            for r in rows
        ]  # fmt: skip
    values = _first_of_each_id(values)
    inserted = _write_postgresql(values) if postgresql else _write_portable(values, source)
    tally: StratumTally = defaultdict(lambda: [0, 0.0, 0.0])
    for day, surface_id, model_id, category, outcome, action, impact in inserted:
        changed = action != GatewayAction.NONE
        entry = tally[(day, surface_id, model_id, category, outcome, changed)]
        entry[0] += 1
        entry[1] += impact
        entry[2] += impact * impact
    return tally


_ID = COLUMNS.index("external_id")
_IDEMPOTENCY_KEY = "interaction_idempotency_key"  # the unique (source, external_id) constraint
_TALLY_COLUMNS = (
    "day", "surface_id", "model_version_id", "category", "response_label", "gateway_action",
    "impact_weight",
)  # fmt: skip
_TALLY = [COLUMNS.index(c) for c in _TALLY_COLUMNS]
_SQLITE_BATCH = 500  # stays under SQLite's limit on bound variables per statement


def _first_of_each_id(values: list[tuple]) -> list[tuple]:
    """A repeat of an id later in the batch is a duplicate: the first row stands."""
    seen: set[str] = set()
    first = []
    for value in values:
        if value[_ID] not in seen:
            seen.add(value[_ID])
            first.append(value)
    return first


def _tally_of(values: list[tuple]) -> list[tuple]:
    return [tuple(v[i] for i in _TALLY) for v in values]


def _write_portable(values: list[tuple], source: str) -> list[tuple]:
    ids = [v[_ID] for v in values]
    stored: set[str] = set()
    for start in range(0, len(ids), _SQLITE_BATCH):
        stored.update(
            Interaction.objects.filter(
                source=source, external_id__in=ids[start : start + _SQLITE_BATCH]
            ).values_list("external_id", flat=True)
        )
    fresh = [v for v in values if v[_ID] not in stored]
    Interaction.objects.bulk_create(
        [Interaction(**dict(zip(COLUMNS, value, strict=True))) for value in fresh],
        batch_size=_SQLITE_BATCH,
    )
    return _tally_of(fresh)


def _column_types() -> list[str]:
    """PostgreSQL type names of COLUMNS, read off the model, for the binary COPY; the jsonb
    columns' values are sent as the bytes write_rows made, which the server reads as jsonb."""
    fields = {f.column: f for f in Interaction._meta.concrete_fields}
    types = [fields[c].db_type(connection).split("(")[0] for c in COLUMNS]
    return ["bytea" if t == "jsonb" else t for t in types]


def _copy(cursor, table: str, values: list[tuple]) -> None:
    # Binary COPY spares both ends the text round trip of dates, numbers and JSON, so it costs
    # less than the text format (bench/README.md).
    # COPY runs on the raw psycopg cursor: Django's wrapper turns its errors into Django's own,
    # so a lost connection is an OperationalError the chunk task retries.
    raw = cursor.cursor
    # The bytea dumper psycopg registers last is its DB-API one, a Python call around the
    # compiled dumper for each of the three bytea values of every row (digest and both JSON
    # columns); this cursor dumps bytes with the compiled one directly (bench/README.md).
    raw.adapters.register_dumper(bytes, BytesBinaryDumper)
    with (
        connection.wrap_database_errors,
        raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(_column_types())
        for row in values:
            copy.write_row(row)


def _write_postgresql(values: list[tuple]) -> list[tuple]:
    """COPY the rows straight into the table, expecting their ids to be new; if one is already
    stored (a file ingested again, a batch pushed twice, a concurrent writer), go through a
    staging table and ON CONFLICT DO NOTHING instead.

    The direct COPY costs PostgreSQL less than the staged path; looking the ids up first would
    add a cost per record to every first ingest, to spare a re-ingest the wasted COPY (figures in
    bench/README.md).
    """
    # Every writer inserts in id order, so two chunks sharing ids wait on each other in one
    # order and never deadlock.
    values.sort(key=lambda v: v[_ID])
    table = Interaction._meta.db_table
    try:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint
            _copy(cursor, table, values)
    except IntegrityError as exc:
        cause = exc.__cause__
        if not (
            isinstance(cause, UniqueViolation) and cause.diag.constraint_name == _IDEMPOTENCY_KEY
        ):
            raise
        return _write_staged(table, values)
    return _tally_of(values)


def _write_staged(table: str, values: list[tuple]) -> list[tuple]:
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        # Same column types, none of the constraints; emptied at every commit.
        staging = f"SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608 - fixed identifiers
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS ingest_staging ON COMMIT DELETE ROWS AS {staging}"
        )
        _copy(cursor, "ingest_staging", values)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ingest_staging "  # noqa: S608
            f"ON CONFLICT (source, external_id) DO NOTHING RETURNING {', '.join(_TALLY_COLUMNS)}"
        )
        return cursor.fetchall()


def add_to_stratum_counts(tally: StratumTally) -> None:
    """Increment the per-stratum population counts in one statement per stratum."""
    if not tally:
        return
    table = StratumCount._meta.db_table
    sql = (
        f"INSERT INTO {table} "  # noqa: S608 - fixed identifiers
        "(day, surface_id, model_version_id, category, outcome, gateway_changed, count, "
        "impact_sum, impact_sq_sum) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (day, surface_id, model_version_id, category, outcome, gateway_changed) "
        "DO UPDATE SET "
        f"count = {table}.count + excluded.count, "
        f"impact_sum = {table}.impact_sum + excluded.impact_sum, "
        f"impact_sq_sum = {table}.impact_sq_sum + excluded.impact_sq_sum"
    )
    params = [(*key, int(c), s, sq) for key, (c, s, sq) in sorted(tally.items())]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
