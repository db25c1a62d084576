from django.db import migrations

# Ingest stores every row with a NULL search vector (migration 0020), and a GIN index keeps an
# entry even for NULL: every ingested row paid PostgreSQL for an entry no search reads
# (bench/README.md). The index becomes partial, over the filled vectors only; the browser's
# condition `prompt_search @@ query` is strict, so the planner proves it implies
# `prompt_search IS NOT NULL` and uses the index without statistics
# (tests/reviewapp/test_browse_views.py). PostgreSQL only.
#
# Built beside the old index and swapped in, each step CONCURRENTLY, so a large table keeps taking
# inserts and searches while it builds; a run interrupted part-way is simply run again.
INDEX = "interaction_prompt_search"
NEXT = f"{INDEX}_next"


def search_index(condition: str):
    """Replace the GIN index over the search vectors with one over those meeting `condition`."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in (
            f"DROP INDEX CONCURRENTLY IF EXISTS {NEXT}",
            f"CREATE INDEX CONCURRENTLY {NEXT} ON auditcore_interaction "
            f"USING gin (prompt_search) {condition}",
            f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}",
            f"ALTER INDEX {NEXT} RENAME TO {INDEX}",
        ):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    # CREATE and DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("auditcore", "0020_interaction_prompt_search_filled_later"),
    ]

    operations = [
        migrations.RunPython(
            search_index("WHERE prompt_search IS NOT NULL"), search_index("")
        ),
    ]
