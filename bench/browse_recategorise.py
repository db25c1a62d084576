"""Benchmark: searching and re-categorising stored traffic on PostgreSQL.

Creates its own database (dropped and recreated; the name comes from --database-url), migrates
it and loads synthetic interactions with one SQL statement (one prompt in 5,000 mentions
phishing); like ingest, the load leaves the search vectors to the indexer. It times the
browser's search (count and first page) for a rare and a common word: before any row is indexed
(every row read through the not-yet-indexed path), then runs the indexer (the service the Celery
task calls) and searches again on the indexed table without statistics, after ANALYZE, and with
the newest 1,000 rows waiting for the indexer; next to each, the same count computing
to_tsvector per row (what an expression index leaves the planner to do when it prefers a scan).
Then what search costs ingest: the same rows inserted into copies of the table without a search
column, with the old generated column and as built. Last, it publishes a version adding "fraud"
and times the re-categorisation job, next to one chunk written with Django's bulk_update instead.

    .venv/bin/python bench/browse_recategorise.py --database-url postgres://root@127.0.0.1:5432/h2
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.draw import recreate_database  # noqa: E402

RARE_EVERY = 5000


def load(rows: int) -> None:
    from django.db import connection

    from auditcore.models import ModelVersion, Surface

    surface = Surface.objects.create(name="chat")
    model = ModelVersion.objects.create(name="acme-1")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO auditcore_interaction (source, external_id, occurred_at, day, surface_id,
                model_version_id, conversation_id, turn, prompt, prompt_digest, earlier_turns,
                response, gateway_action, user_ref, user_segment, impact_weight,
                session_importance, category, category_score, response_label, response_score,
                served_label, detector_version, u, priority_key, stratum_key, redaction_count,
                metadata, created_at)
            SELECT 'bench', 'r' || g, now(), DATE '2026-11-30' - mod(g, 30), %s, %s, '', 1,
                CASE WHEN mod(g, {RARE_EVERY}) = 0
                     THEN 'Is this text from my bank a phishing scam? ' || g
                     ELSE 'How much paracetamol is safe for an adult, question ' || g || '?' END,
                decode(md5(g::text), 'hex'), '[]', 'Here is what I can say.', 'none', '',
                'unknown', 1, 1,
                CASE WHEN mod(g, {RARE_EVERY}) = 0 THEN 'security' ELSE 'medical' END, 0.6,
                'compliance', 0.9, 'compliance', 'bench', 0.5, 0.5,
                (DATE '2026-11-30' - mod(g, 30))::text || '|' ||
                CASE WHEN mod(g, {RARE_EVERY}) = 0 THEN 'security' ELSE 'medical' END ||
                '|compliance|acme-1', 0, '{{}}', now()
            FROM generate_series(1, %s) g
            """,  # noqa: S608 - constants only
            [surface.pk, model.pk, rows],
        )
        cursor.execute(
            """
            INSERT INTO auditcore_stratumcount (day, surface_id, model_version_id, category,
                outcome, gateway_changed, count, impact_sum, impact_sq_sum)
            SELECT day, surface_id, model_version_id, category, response_label, false, count(*),
                   sum(impact_weight), sum(impact_weight * impact_weight)
            FROM auditcore_interaction GROUP BY 1, 2, 3, 4, 5
            """
        )
    print(f"loaded {rows:,} interactions in {time.perf_counter() - started:.1f}s")


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:7.0f} ms"


def search(label: str) -> None:
    from django.db import connection

    from auditcore.selectors.browse import PAGE_SIZE, BrowseFilters, browse_interactions

    print(f"search, {label}")
    for word in ("phishing", "paracetamol"):
        found = browse_interactions(BrowseFilters(q=word))
        started = time.perf_counter()
        n = found.count()
        count_time = _ms(started)
        started = time.perf_counter()
        list(found[:PAGE_SIZE])
        page_time = _ms(started)
        plan = found[:PAGE_SIZE].explain()
        scan = "GIN index" if "interaction_prompt_search " in plan else "scan/primary key"
        if "interaction_prompt_search_pending" in plan:
            scan += " + not-yet-indexed index"
        print(f"  {word:<12} {n:>8,} found  count {count_time}  page {page_time}  ({scan})")
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                "SELECT count(*) FROM auditcore_interaction WHERE "
                "to_tsvector('simple'::regconfig, COALESCE(prompt, '')) @@ "
                "websearch_to_tsquery('simple'::regconfig, %s)",
                [word],
            )
            print(f"  {'':<12} computing to_tsvector per row instead: count {_ms(started)}")


def index(label: str) -> None:
    from auditcore.services.search_index import interactions_search_index

    started = time.perf_counter()
    filled = interactions_search_index()
    seconds = time.perf_counter() - started
    print(
        f"indexer, {label}: {filled:,} rows in {seconds:.1f}s ({filled / seconds:,.0f}/s, "
        f"{seconds / filled * 1e6:.0f} µs a row, ANALYZE included)"
    )


def unindex_newest(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE auditcore_interaction SET prompt_search = NULL WHERE id > "
            "(SELECT max(id) FROM auditcore_interaction) - %s",
            [rows],
        )


def forget_statistics() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM pg_statistic WHERE starelid = 'auditcore_interaction'::regclass"
        )


def write_cost(rows: int) -> None:
    """What full-text search costs ingest: inserting the same rows into copies of the table with
    no search column, with the column generated on insert (before migration 0020) and as built
    (a plain column left NULL, filled later by the indexer, whose cost index() measures)."""
    from django.db import connection

    from auditcore.ingest.writer import COLUMNS

    columns = ", ".join(c for c in COLUMNS if c != "id")
    expression = "to_tsvector('simple'::regconfig, COALESCE(prompt, ''))"
    variants = {
        "no search column": ["ALTER TABLE {t} DROP COLUMN prompt_search"],
        "generated column + GIN (old)": [
            "ALTER TABLE {t} DROP COLUMN prompt_search",
            f"ALTER TABLE {{t}} ADD COLUMN prompt_search tsvector "
            f"GENERATED ALWAYS AS ({expression}) STORED",
            "CREATE INDEX ON {t} USING gin (prompt_search)",
        ],
        "plain column, filled later (built)": [],
    }
    print(f"write cost, {rows:,} rows inserted twice into a copy of the table")
    with connection.cursor() as cursor:
        for i, (name, setup) in enumerate(variants.items()):
            table = f"bench_write_{i}"
            cursor.execute(f"CREATE TABLE {table} (LIKE auditcore_interaction INCLUDING ALL)")
            for statement in setup:
                cursor.execute(statement.format(t=table))
            times = []
            for lower in (0, rows):
                started = time.perf_counter()
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608 - constants
                    "FROM auditcore_interaction WHERE id > %s AND id <= %s",
                    [lower, lower + rows],
                )
                times.append(_ms(started).strip())
            cursor.execute(f"DROP TABLE {table}")
            print(f"  {name:<36} {' and '.join(times)}")


def recategorise() -> None:
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from auditcore.models import Interaction
    from auditcore.selectors.recategorise import undrawn_chunk
    from auditcore.services.policy import (
        category_create,
        policy_create,
        policy_version_draft_from,
        policy_version_publish,
    )
    from auditcore.services.recategorise import (
        CHUNK_SIZE,
        recategorise_job_create,
        recategorise_job_run,
    )

    security = {"slug": "security", "name": "Security", "keywords": ["phishing", "hack"]}
    medical = {"slug": "medical", "name": "Medical", "keywords": ["paracetamol", "dose"]}
    v1 = policy_create(actor=None, name="Bench policy", categories=[security, medical])
    v1 = policy_version_publish(actor=None, version=v1)
    draft = policy_version_draft_from(actor=None, source=v1)
    fraud = {"slug": "fraud", "name": "Fraud", "keywords": ["phishing", "scam"]}
    category_create(actor=None, version=draft, data=fraud)
    v2 = policy_version_publish(actor=None, version=draft)
    period = Interaction.objects.aggregate(start=Min("day"), end=Max("day"))
    start, end = period["start"], period["end"]

    # One chunk with Django's bulk_update, rolled back: the comparison figure.
    rows = list(undrawn_chunk(start, end, 0, CHUNK_SIZE))
    for row in rows:
        row.category = "fraud" if row.category == "medical" else "medical"
    with transaction.atomic():
        started = time.perf_counter()
        Interaction.objects.bulk_update(
            rows, ["category", "category_score", "stratum_key"], batch_size=500
        )
        print(f"one chunk of {len(rows):,} written with bulk_update: {_ms(started)}")
        transaction.set_rollback(True)

    job = recategorise_job_create(actor=None, version=v2, period_start=start, period_end=end)
    started = time.perf_counter()
    job = recategorise_job_run(job_id=job.pk)
    seconds = time.perf_counter() - started
    print(
        f"re-categorised {job.processed:,} interactions in {seconds:.1f}s "
        f"({job.processed / seconds:,.0f}/s, chunks of {CHUNK_SIZE:,}); moves {job.transitions}"
    )
    # The worst case: every row changes category, so every row is rewritten.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE auditcore_interaction SET category = 'general'")
        cursor.execute("ANALYZE auditcore_interaction")
    job = recategorise_job_create(actor=None, version=v2, period_start=start, period_end=end)
    started = time.perf_counter()
    job = recategorise_job_run(job_id=job.pk)
    seconds = time.perf_counter() - started
    print(
        f"worst case, every row changes: {job.changed:,} moved in {seconds:.1f}s "
        f"({job.processed / seconds:,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/bench_browse"),
    )
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("this bench needs PostgreSQL")
    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    load(args.rows)
    search("nothing indexed yet, no statistics")
    index("every row")
    forget_statistics()
    search("indexed, no statistics")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE auditcore_interaction")
    search("indexed, after ANALYZE")
    unindex_newest(1000)
    search("the newest 1,000 rows not yet indexed, after ANALYZE")
    index("the newest 1,000 rows")
    write_cost(min(100_000, args.rows // 2))
    recategorise()


if __name__ == "__main__":
    main()
