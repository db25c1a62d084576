from django.db import migrations

# The search column of migration 0018 stops being generated: PostgreSQL computing to_tsvector
# and the GIN entry on every insert cost 20–50 µs of its CPU per ingested record, a large part of
# ingest's budget; left NULL, about 6 µs (bench/README.md, "Search over prompts and
# re-categorising stored traffic"). It becomes a plain column, NULL on insert, filled in batches
# after the ingest job by auditcore.services.search_index (about as much work, later); rows
# stored before keep their vectors. The GIN index stays, and a partial index finds the rows not
# yet filled (the indexer's work, and the rows whose vector the browser's search computes),
# without planner statistics. PostgreSQL only.
TABLE = "auditcore_interaction"
COLUMN = "prompt_search"
INDEX = "interaction_prompt_search"
PENDING_INDEX = "interaction_prompt_search_pending"
EXPRESSION = "to_tsvector('simple'::regconfig, COALESCE(prompt, ''))"


def on_postgresql(*statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


# Forwards: the stored vectors stay, as plain values.
FILL_LATER = on_postgresql(
    f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} DROP EXPRESSION",
    f"CREATE INDEX {PENDING_INDEX} ON {TABLE} (id) WHERE {COLUMN} IS NULL",
)
# Backwards: generated again, so PostgreSQL computes every row's vector (the GIN index goes
# with the dropped column and is rebuilt; the partial index too, and is not).
GENERATE = on_postgresql(
    f"ALTER TABLE {TABLE} DROP COLUMN {COLUMN}",
    f"ALTER TABLE {TABLE} ADD COLUMN {COLUMN} tsvector "
    f"GENERATED ALWAYS AS ({EXPRESSION}) STORED",
    f"CREATE INDEX {INDEX} ON {TABLE} USING gin ({COLUMN})",
)


class Migration(migrations.Migration):

    dependencies = [
        ("auditcore", "0019_merge_recategorise_after_reveal"),
    ]

    operations = [
        migrations.RunPython(FILL_LATER, GENERATE),
    ]
