"""Fills the browser's full-text search column off the ingest path.

On PostgreSQL `auditcore_interaction.prompt_search` holds to_tsvector of the prompt (migration
0020). Ingest leaves it NULL, so no insert pays for to_tsvector and the GIN entry; this service
fills the NULL rows afterwards, queued when an ingest job finishes and swept periodically. The
browser's search reads the prompts of the rows not yet filled, so a record is found at once.
"""

from django.db import connection, transaction

from auditcore.models import Interaction
from auditcore.selectors.browse import SEARCH_COLUMN, SEARCH_CONFIG

BATCH = 20_000


def interactions_search_index(*, batch: int = BATCH) -> int:
    """Fill the search vector of every interaction stored without one, in id order, one batch a
    transaction: an interrupted run keeps its batches and the next one resumes (the NULLs are the
    checkpoint), and no lock is held for long. Rows a concurrent run holds are skipped, not
    waited for. Rows stored after the run began are left to the next. Returns the rows filled;
    ANALYZE follows when there were any, so the planner sees the column filled, unless the caller
    holds a transaction (the task does not): ANALYZE would keep its lock until that commits, and
    its figures in pg_class would stay even if it rolled back."""
    if connection.vendor != "postgresql":
        return 0
    table = connection.ops.quote_name(Interaction._meta.db_table)
    fill = f"""
        WITH pending AS (
            SELECT id FROM {table}
            WHERE {SEARCH_COLUMN} IS NULL AND id > %s AND id <= %s
            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
        ), filled AS (
            UPDATE {table} AS i
            SET {SEARCH_COLUMN} = to_tsvector(%s::regconfig, COALESCE(i.prompt, ''))
            FROM pending WHERE i.id = pending.id
            RETURNING i.id
        )
        SELECT count(*), max(id) FROM filled
    """  # noqa: S608 - fixed identifiers, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(id) FROM {table} WHERE {SEARCH_COLUMN} IS NULL")  # noqa: S608
        last = cursor.fetchone()[0]
    written, after = 0, 0
    while last is not None and after < last:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(fill, [after, last, batch, SEARCH_CONFIG])
            count, highest = cursor.fetchone()
        if not count:
            break
        written += count
        after = highest
    if written and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    return written
