"""Interactions loaded with COPY for the benchmarks: a million rows is too many for the ORM, so
each row gives the fields it varies and the rest come from the test factory's defaults."""

import datetime as dt

COLUMNS = (
    "source", "external_id", "occurred_at", "day", "surface_id", "model_version_id",
    "conversation_id", "turn", "prompt", "prompt_digest", "earlier_turns", "response",
    "gateway_action", "user_ref", "user_segment", "impact_weight", "category", "category_score",
    "response_label", "response_score", "served_label", "detector_version", "u", "priority_key",
    "stratum_key", "redaction_count", "metadata", "created_at",
)  # fmt: skip


def copy_interactions(cursor, rows, **common) -> None:
    """COPY `rows` (dicts: external_id, prompt and prompt_digest at least) into the interaction
    table; what a row leaves out comes from `common`, then from InteractionFactory."""
    from tests.factories import InteractionFactory

    now = dt.datetime.now(dt.UTC)
    default = InteractionFactory.build(
        surface=None, model_version=None, stratum_key="", occurred_at=now
    )
    base = {column: getattr(default, column) for column in COLUMNS if column != "created_at"}
    base |= {"earlier_turns": "[]", "metadata": "{}", "created_at": now, "source": "bench"}
    base |= {"detector_version": "bench", **common}
    sql = f"COPY auditcore_interaction ({', '.join(COLUMNS)}) FROM STDIN"
    with cursor.cursor.copy(sql) as copy:
        for row in rows:
            fields = base | row
            copy.write_row([fields[column] for column in COLUMNS])
