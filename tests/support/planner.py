"""What PostgreSQL's planner knows about tables, for tests of plans on a freshly drawn round."""

from django.db import connection


def assert_unanalysed(*models) -> None:
    """Fail unless PostgreSQL holds no planner statistics for these tables, as on a fresh
    database right after a draw; autovacuum is switched off for them so none appear meanwhile."""
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        # Inside a test's transaction, deferred foreign-key checks would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} "
                           "SET (autovacuum_enabled = false)")  # fmt: skip
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND (reltuples >= 0 OR relname "
            "IN (SELECT tablename FROM pg_stats WHERE tablename = ANY(%s)))",
            [tables, tables],
        )
        analysed = sorted(row[0] for row in cursor.fetchall())
    assert analysed == [], f"these tables have planner statistics: {analysed}"
