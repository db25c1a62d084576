from django.db import migrations

# Ingest stores every row with a NULL search vector (migration 0020), and a GIN index keeps an
# entry even for NULL: every ingested row paid PostgreSQL for an entry no search reads
# (bench/README.md). The index becomes partial, over the filled vectors only; the browser's
# condition `prompt_search @@ query` is strict, so the planner proves it implies
# `prompt_search IS NOT NULL` and uses the index without statistics
# (tests/reviewapp/test_browse_views.py). PostgreSQL only.
INDEX = "interaction_prompt_search"


def search_index(condition: str):
    """Replace the GIN index over the search vectors with one over those meeting `condition`."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX {INDEX}")
            schema_editor.execute(
                f"CREATE INDEX {INDEX} ON auditcore_interaction USING gin (prompt_search) "
                f"{condition}"
            )

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("auditcore", "0020_interaction_prompt_search_filled_later"),
    ]

    operations = [
        migrations.RunPython(
            search_index("WHERE prompt_search IS NOT NULL"), search_index("")
        ),
    ]
