"""Export rows as PostgreSQL renders them, streamed by COPY: no Python formatting per row.

The SQL writes each value as the Python writers do (``auditcore.services.exports``): timestamps
in ``isoformat``, floats as ``repr``, the verdicts and earlier turns as compact JSON, and for CSV
the spreadsheet-formula rule of ``auditcore.csvsafe.cell_guard`` on every text cell. The rows
come in slices of item ids, one COPY each, so the caller can record progress between them on
the same connection.
"""

from collections.abc import Callable, Iterator

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from auditcore.csvsafe import FORMULA_LEADS, NUMBER_PATTERN
from auditcore.models import (
    Adjudication,
    AuditRound,
    Interaction,
    ModelVersion,
    Policy,
    PolicyVersion,
    RoundItem,
    RoundStratum,
    Surface,
    Verdict,
)
from auditcore.selectors.exports import COLUMNS, TEXT_COLUMNS, reviewer_pseudonym

Write = Callable[[bytes], object]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_LEADS = ", ".join(str(ord(c)) for c in sorted(FORMULA_LEADS))
_QUOTE = ord("'")
# The same number as csvsafe's (ASCII digits), anchored at both ends like re.fullmatch.
_NUMBER = _literal("^" + NUMBER_PATTERN + "$")


def _guarded(expr: str) -> str:
    """csvsafe.cell_guard in SQL: a leading quote for formula-like text and for text that
    already starts with a quote before such a character, so reading back is exact."""
    return (
        f"CASE WHEN ascii({expr}) IN ({_LEADS}) AND {expr} !~ {_NUMBER} THEN '''' || {expr}"
        f" WHEN ascii({expr}) = {_QUOTE} AND ascii(substr({expr}, 2, 1)) IN ({_LEADS}, {_QUOTE})"
        f" THEN '''' || {expr} ELSE {expr} END"
    )


def _timestamp(expr: str) -> str:
    """datetime.isoformat() of a UTC timestamp: microseconds only when there are some."""
    return (
        f"""replace(to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),"""
        " '.000000+', '+')"
    )


def _float(expr: str) -> str:
    """repr() of a float: whole numbers keep their '.0' (PostgreSQL would drop it). Where the two
    still differ (NaN and infinities, fractions between 1e15 and 1e16) no export column goes."""
    return (
        f"CASE WHEN {expr} = trunc({expr}) AND abs({expr}) < 1e16"
        f" THEN trunc({expr})::bigint::text || '.0' ELSE {expr}::text END"
    )


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _policy_version(alias_version: str, alias_policy: str) -> str:
    return f"{alias_policy}.name || ' v' || {alias_version}.number"


# Each export column: (kind, SQL expression). Kinds: text, int, float, time, json (JSON text).
_EXPRESSIONS: dict[str, tuple[str, str]] = {
    "item_id": ("int", "ri.id"),
    "round": ("text", "r.name"),
    "external_id": ("text", "i.external_id"),
    "source": ("text", "i.source"),
    "occurred_at": ("time", "i.occurred_at"),
    "surface": ("text", "s.name"),
    "model_version": ("text", "mv.name"),
    "category": ("text", "i.category"),
    "policy_version": ("text", _policy_version("pv", "pol")),
    "stratum": ("text", "st.stratum_key"),
    "inclusion_probability": ("float", "ri.inclusion_probability"),
    "weight": ("float", "ri.weight"),
    "final_decision": ("text", "ri.final_decision"),
    "adjudicated_by": ("text", "adj.username"),
    "adjudicated_at": ("time", "adj.created_at"),
    "verdicts": ("json", "COALESCE(vd.verdicts, '[]')"),
    "response_label": ("text", "i.response_label"),
    "response_score": ("float", "i.response_score"),
    "served_label": ("text", "i.served_label"),
    "gateway_action": ("text", "i.gateway_action"),
    "category_score": ("float", "i.category_score"),
    "detector_version": ("text", "i.detector_version"),
    "prompt": ("text", "i.prompt"),
    "earlier_turns": ("json", "tu.turns"),
    "response": ("text", "i.response"),
    "served_response": ("text", "i.served_response"),
}


def _csv_cell(column: str) -> str:
    kind, expr = _EXPRESSIONS[column]
    if kind == "text":
        # NULL and "" are both an empty unquoted cell, as csv.writer writes them.
        return _guarded(f"NULLIF({expr}, '')")
    if kind == "time":
        return _timestamp(expr)
    if kind == "float":
        return _float(expr)
    return f"{expr}::text"


def _json_value(column: str) -> str:
    """The value typed so that row_to_json writes what orjson writes for the Python value
    (floats as repr: "1e-05" where orjson writes "0.00001", the same number)."""
    kind, expr = _EXPRESSIONS[column]
    if kind == "time":
        return _timestamp(expr)
    if kind == "float":
        return f"({_float(expr)})::json"
    if kind == "json":
        return f"({expr})::json"
    return expr


def _columns(fields: list[tuple[str, str]]) -> str:
    return ", ".join(f'{value} AS "{name}"' for name, value in fields)


# row_to_json of these rows writes compact JSON, keys in this order, with to_json's escapes:
# what orjson writes for the same dict.
_VERDICT_ROW = _columns(
    [
        ("reviewer", "pn.name"),
        ("decision", "v.decision"),
        ("reason_code", "v.reason_code"),
        ("observed_label", "v.observed_label"),
        ("policy_version", _policy_version("vpv", "vpol")),
        ("locked_at", _timestamp("v.locked_at")),
        ("superseded", "v.superseded"),
    ]
)
# The Parquet schema's turn: role and content as text, whatever else a turn held is left out.
_TURN_ROW = _columns(
    [("role", "COALESCE(t.e->>'role', '')"), ("content", "COALESCE(t.e->>'content', '')")]
)


def _from(*, round_id: int | None, include_text: bool) -> str:
    """The rows of one slice of item ids. Every per-row lookup is an index probe (the OFFSET 0
    fence keeps the planner from hashing the whole interaction table for a slice of it); the
    verdicts and adjudications of the slice are read by range, in one pass each."""
    scope = "AND round_id = %(round)s " if round_id is not None else ""
    in_scope = (
        f"JOIN {_table(RoundItem)} sri ON sri.id = {{0}}.item_id AND sri.round_id = %(round)s"
        if round_id is not None
        else ""
    )
    turns = (
        f"""
        CROSS JOIN LATERAL (
            SELECT COALESCE(
                '[' || string_agg(row_to_json(tr)::text, ',' ORDER BY t.n) || ']', '[]'
            ) AS turns
            FROM jsonb_array_elements(
                CASE WHEN jsonb_typeof(i.earlier_turns) = 'array' THEN i.earlier_turns
                     ELSE '[]'::jsonb END
            ) WITH ORDINALITY AS t(e, n)
            CROSS JOIN LATERAL (SELECT {_TURN_ROW}) tr
            WHERE jsonb_typeof(t.e) = 'object'
        ) tu"""  # noqa: S608
        if include_text
        else ""
    )
    # Only fixed identifiers and this module's expressions are formatted in; values are params.
    return f"""
        FROM (
            SELECT * FROM {_table(RoundItem)}
            WHERE id > %(after)s AND id <= %(upto)s {scope}
              AND status = 'done' AND NOT is_gold AND final_decision <> ''
        ) ri
        JOIN LATERAL (
            SELECT * FROM {_table(Interaction)} WHERE id = ri.interaction_id OFFSET 0
        ) i ON true
        JOIN {_table(AuditRound)} r ON r.id = ri.round_id
        JOIN {_table(Surface)} s ON s.id = i.surface_id
        JOIN {_table(ModelVersion)} mv ON mv.id = i.model_version_id
        JOIN {_table(PolicyVersion)} pv ON pv.id = ri.policy_version_id
        JOIN {_table(Policy)} pol ON pol.id = pv.policy_id
        LEFT JOIN {_table(RoundStratum)} st ON st.id = ri.stratum_id
        LEFT JOIN (
            SELECT v.item_id,
                   '[' || string_agg(row_to_json(vr)::text, ',' ORDER BY v.locked_at, v.id)
                   || ']' AS verdicts
            FROM {_table(Verdict)} v {in_scope.format("v")}
            JOIN unnest(%(user_ids)s::bigint[], %(pseudonyms)s::text[]) AS pn(id, name)
              ON pn.id = v.reviewer_id
            JOIN {_table(PolicyVersion)} vpv ON vpv.id = v.policy_version_id
            JOIN {_table(Policy)} vpol ON vpol.id = vpv.policy_id
            CROSS JOIN LATERAL (SELECT {_VERDICT_ROW}) vr
            WHERE v.item_id > %(after)s AND v.item_id <= %(upto)s
            GROUP BY v.item_id
        ) vd ON vd.item_id = ri.id
        LEFT JOIN (
            SELECT DISTINCT ON (a.item_id) a.item_id, u.username, a.created_at
            FROM {_table(Adjudication)} a {in_scope.format("a")}
            JOIN {_table(get_user_model())} u ON u.id = a.adjudicator_id
            WHERE a.item_id > %(after)s AND a.item_id <= %(upto)s
            ORDER BY a.item_id, a.created_at DESC, a.id DESC
        ) adj ON adj.item_id = ri.id{turns}
        ORDER BY ri.id"""  # noqa: S608


def copy_columns(include_text: bool) -> tuple[str, ...]:
    return (*COLUMNS, *(TEXT_COLUMNS if include_text else ()))


def csv_copy_sql(*, round_id: int | None, include_text: bool) -> str:
    cells = ",\n        ".join(_csv_cell(c) for c in copy_columns(include_text))
    rows = _from(round_id=round_id, include_text=include_text)
    return f"COPY (SELECT {cells} {rows}) TO STDOUT (FORMAT csv)"


def jsonl_copy_sql(*, round_id: int | None, include_text: bool) -> str:
    values = _columns([(c, _json_value(c)) for c in copy_columns(include_text)])
    rows = _from(round_id=round_id, include_text=include_text)
    # CSV format with a delimiter and quote that JSON text never holds raw (to_json escapes
    # every control character): each line is written exactly as built, without COPY's escapes.
    return (
        f"COPY (SELECT row_to_json(line) FROM (SELECT {values} {rows}) line)"  # noqa: S608
        " TO STDOUT (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
    )


def bare_copy_sql(*, round_id: int | None) -> str:
    """The yardstick of bench/export.py: the same rows and columns (without text) in one plain
    COPY, values as PostgreSQL prints them by itself and joins as its planner likes them."""
    scope = "AND ri.round_id = %(round)s " if round_id is not None else ""
    values = ", ".join(
        _EXPRESSIONS[c][1] for c in COLUMNS if c not in ("policy_version", "verdicts")
    )
    return f"""COPY (
        SELECT {values}, pol.name, pv.number, vd.verdicts
        FROM {_table(RoundItem)} ri
        JOIN {_table(Interaction)} i ON i.id = ri.interaction_id
        JOIN {_table(AuditRound)} r ON r.id = ri.round_id
        JOIN {_table(Surface)} s ON s.id = i.surface_id
        JOIN {_table(ModelVersion)} mv ON mv.id = i.model_version_id
        JOIN {_table(PolicyVersion)} pv ON pv.id = ri.policy_version_id
        JOIN {_table(Policy)} pol ON pol.id = pv.policy_id
        LEFT JOIN {_table(RoundStratum)} st ON st.id = ri.stratum_id
        LEFT JOIN (
            SELECT v.item_id, json_agg(json_build_object(
                'reviewer', v.reviewer_id, 'decision', v.decision, 'reason_code', v.reason_code,
                'observed_label', v.observed_label, 'policy_version', v.policy_version_id,
                'locked_at', v.locked_at, 'superseded', v.superseded
            ) ORDER BY v.locked_at, v.id) AS verdicts
            FROM {_table(Verdict)} v GROUP BY v.item_id
        ) vd ON vd.item_id = ri.id
        LEFT JOIN (
            SELECT DISTINCT ON (a.item_id) a.item_id, u.username, a.created_at
            FROM {_table(Adjudication)} a
            JOIN {_table(get_user_model())} u ON u.id = a.adjudicator_id
            ORDER BY a.item_id, a.created_at DESC, a.id DESC
        ) adj ON adj.item_id = ri.id
        WHERE ri.status = 'done' AND NOT ri.is_gold AND ri.final_decision <> '' {scope}
        ORDER BY ri.id
    ) TO STDOUT"""  # noqa: S608


def _slice_end(*, after: int, round_id: int | None, rows: int) -> int | None:
    """The item id that closes the next slice of ``rows`` exported items after ``after``."""
    scope = "round_id = %s AND " if round_id is not None else ""
    params = [round_id] if round_id is not None else []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(id) FROM (SELECT id FROM {_table(RoundItem)}"  # noqa: S608
            f" WHERE {scope}status = 'done' AND NOT is_gold AND final_decision <> ''"
            " AND id > %s ORDER BY id LIMIT %s) s",
            [*params, after, rows],
        )
        return cursor.fetchone()[0]


def _pseudonyms(*, after: int, upto: int, known: dict[int, str]) -> dict[int, str]:
    """The pseudonyms of the slice's reviewers (computed here: the key stays out of SQL)."""
    reviewers = set(
        Verdict.objects.filter(item_id__gt=after, item_id__lte=upto)
        .order_by()
        .values_list("reviewer_id", flat=True)
        .distinct()
    )
    for user_id in reviewers - known.keys():
        known[user_id] = reviewer_pseudonym(user_id)
    return {user_id: known[user_id] for user_id in reviewers}


def label_copy(
    *,
    sql: str,
    round_id: int | None,
    slice_rows: int,
    write: Write,
    on_slice: Callable[[int], None],
) -> int:
    """Run a COPY statement of this module over every slice, handing its output to ``write``
    as it arrives and the running row count to ``on_slice`` after each slice."""
    written, after, known = 0, 0, {}
    for upto in _slice_ends(round_id=round_id, slice_rows=slice_rows):
        pseudonyms = _pseudonyms(after=after, upto=upto, known=known)
        params = {
            "round": round_id,
            "after": after,
            "upto": upto,
            "user_ids": list(pseudonyms),
            "pseudonyms": list(pseudonyms.values()),
        }
        with transaction.atomic(), connection.cursor() as cursor:
            # A slice is small: parallel workers would each rebuild the verdicts of the slice,
            # compiling its many expressions (JIT) costs more than it saves, and its sorts fit
            # in memory.
            cursor.execute(
                "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off;"
                " SET LOCAL work_mem = '64MB'"
            )
            raw = cursor.cursor
            with raw.copy(sql, params) as copy:
                for data in copy:
                    write(data)
            written += raw.rowcount
        on_slice(written)
        after = upto
    return written


def _slice_ends(*, round_id: int | None, slice_rows: int) -> Iterator[int]:
    after = 0
    while (upto := _slice_end(after=after, round_id=round_id, rows=slice_rows)) is not None:
        yield upto
        after = upto
