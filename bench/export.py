"""Benchmark: exporting 1,000,000 adjudicated labels to CSV, JSON Lines and Parquet.

Creates its own PostgreSQL database (dropped and recreated; the name comes from --database-url),
migrates it, loads interactions with COPY and builds two rounds of labelled items, verdicts and
adjudications with INSERT … SELECT. Each export then runs in a fresh child process, so its peak
RSS is the export's alone: a small round (10% of the rows) and every round, per format. Flat
memory means the two peaks are about the same.

The yardstick, measured in the same run: a bare ``COPY (SELECT …) TO STDOUT`` of the same rows
and columns (the same joins, values as PostgreSQL prints them by itself, the verdicts as its own
``json_agg``, one statement planned as PostgreSQL likes) into a file from a child process the
same way; the ratio is the export's seconds over the bare copy's.

    .venv/bin/python bench/export.py --database-url postgres://root@127.0.0.1:5432/bench_export
"""

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from draw import recreate_database  # noqa: E402

DAY = dt.date(2026, 11, 1)
REVIEWERS = 5


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-export-"))
    import django

    django.setup()


def load(rows: int) -> None:
    from django.db import connection
    from interactions import copy_interactions

    from auditcore.consistency import prompt_digest
    from auditcore.models import AuditRound
    from auditcore.services.policy import policy_create, policy_version_publish
    from tests.factories import (
        AuditRoundFactory,
        ModelVersionFactory,
        ReviewerFactory,
        RoundStratumFactory,
        SafetyLeadFactory,
        SurfaceFactory,
    )

    surface = SurfaceFactory(name="chat")
    model = ModelVersionFactory(name="acme-2026-11")
    users = ReviewerFactory.create_batch(REVIEWERS)
    lead = SafetyLeadFactory(username="lead")
    version = policy_version_publish(
        actor=None,
        version=policy_create(
            actor=None,
            name="Bench",
            categories=[{"slug": "medical", "help_when": ["a"], "decline_when": ["b that c"]}],
        ),
    )

    def records():
        for i in range(rows):
            label = "refusal" if i % 4 == 0 else "compliance"
            prompt = f"How do I do thing {i}?"
            yield {
                "external_id": f"r{i}", "prompt": prompt, "prompt_digest": prompt_digest(prompt),
                "response_label": label, "served_label": label,
            }  # fmt: skip

    started = time.perf_counter()
    with connection.cursor() as cursor:
        copy_interactions(
            cursor, records(), day=DAY, surface_id=surface.pk, model_version_id=model.pk,
            user_segment="unknown", category_score=0.8, response_score=0.9, u=0.5,
            priority_key=0.5, stratum_key="k",
        )  # fmt: skip
        print(f"loaded {rows:,} interactions in {time.perf_counter() - started:.1f}s (COPY)")
        rounds = []
        for name in ("small", "big"):
            audit_round = AuditRoundFactory(
                name=name,
                policy_version=version,
                period_start=DAY,
                salt=name,
                status=AuditRound.Status.CLOSED,
            )
            stratum = RoundStratumFactory(
                round=audit_round,
                stratum_key=f"{DAY}|medical|refusal|acme-2026-11",
                model_version=model,
                population=rows,
                planned=rows,
            )
            rounds.append((audit_round, stratum))
        (small, small_stratum), (big, big_stratum) = rounds
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO auditcore_rounditem
                (round_id, interaction_id, stratum_id, inclusion_probability, weight,
                 required_reviews, verdict_count, is_gold, gold_decision, policy_version_id,
                 status, final_decision, queue_order, created_at, observed_label,
                 observed_served_label, observation_disputed)
            SELECT CASE WHEN id %% 10 = 0 THEN %s ELSE %s END,
                   id,
                   CASE WHEN id %% 10 = 0 THEN %s ELSE %s END,
                   0.01 + (id %% 97) / 100.0, 1 / (0.01 + (id %% 97) / 100.0),
                   1, 1, false, '', %s, 'done',
                   CASE WHEN id %% 3 = 0 THEN 'decline' ELSE 'help' END, 0, now(), '', '', false
            FROM auditcore_interaction
            """,
            [small.pk, big.pk, small_stratum.pk, big_stratum.pk, version.pk],
        )
        cursor.execute(
            """
            INSERT INTO auditcore_verdict
                (item_id, reviewer_id, decision, reason_code, policy_clause, note,
                 policy_version_id, seconds_spent, locked_at, observed_label, observed_at,
                 superseded, observed_served_label, category_wrong, suggested_category,
                 after_reveal)
            SELECT id, (%s::bigint[])[1 + id %% %s], final_decision, 'general_info', '', '',
                   policy_version_id, 30, now(), 'refusal', now(), false, '', false, '', false
            FROM auditcore_rounditem
            """,
            [[u.pk for u in users], REVIEWERS],
        )
        cursor.execute(
            """
            INSERT INTO auditcore_adjudication
                (item_id, adjudicator_id, decision, note, policy_version_id, created_at)
            SELECT id, %s, final_decision, '', policy_version_id, now()
            FROM auditcore_rounditem WHERE id %% 10 = 3
            """,
            [lead.pk],
        )
        for table in ("interaction", "rounditem", "verdict", "adjudication"):
            cursor.execute(f"ANALYZE auditcore_{table}")
    print(f"built items, verdicts and adjudications in {time.perf_counter() - started:.1f}s")


def bare_copy(round_name: str | None, output: str) -> int:
    """The same rows and columns in one plain COPY, written to ``output`` as they arrive."""
    from django.db import connection

    from auditcore.models import AuditRound
    from auditcore.selectors.export_copy import bare_copy_sql

    round_id = AuditRound.objects.get(name=round_name).pk if round_name else None
    with connection.cursor() as cursor, open(output, "wb") as out:
        with cursor.cursor.copy(bare_copy_sql(round_id=round_id), {"round": round_id}) as copy:
            for data in copy:
                out.write(data)
        return cursor.cursor.rowcount


def child(fmt: str, round_name: str | None, output: str) -> None:
    """One export (or the bare copy) in this process; prints rows, seconds, peak RSS, file MB."""
    from auditcore.services.exports import export_labels_to_path

    started = time.perf_counter()
    if fmt == "bare":
        rows = bare_copy(round_name, output)
    else:
        rows = export_labels_to_path(
            actor=None, fmt=fmt, output=output, round_name=round_name
        ).rows_written
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = Path(output).stat().st_size / 1e6
    print(f"{rows} {seconds:.3f} {peak_mb:.1f} {size_mb:.1f}")


def run_child(url: str, fmt: str, scope: str, folder: str) -> tuple[int, float, str, str]:
    output = str(Path(folder) / f"labels-{scope}.{fmt}")
    line = subprocess.run(
        [sys.executable, __file__, "--database-url", url, "--child", fmt, scope, output],
        check=True, capture_output=True, text=True, env=os.environ.copy(),
    ).stdout.split()  # fmt: skip
    Path(output).unlink(missing_ok=True)
    return int(line[0]), float(line[1]), line[2], line[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/bench_export"),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,jsonl,parquet")
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's database")
    parser.add_argument("--child", nargs=3, metavar=("FORMAT", "ROUND", "OUTPUT"))
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the export bench needs PostgreSQL (it loads with COPY)")

    if args.child:
        setup_django(args.database_url)
        fmt, round_name, output = args.child
        child(fmt, None if round_name == "-" else round_name, output)
        return

    if not args.reuse:
        recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not args.reuse:
        load(args.rows)

    print(f"{'format':<8} {'scope':<6} {'rows':>9} {'seconds':>8} {'rows/s':>9} "
          f"{'peak RSS MB':>11} {'file MB':>8} {'bare COPY s':>11} {'ratio':>6}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        for scope in ("small", "-"):
            label = "10%" if scope == "small" else "all"
            bare_rows, bare, peak, size = run_child(args.database_url, "bare", scope, folder)
            print(f"{'bare':<8} {label:<6} {bare_rows:>9,} {bare:>8.1f} {bare_rows / bare:>9,.0f} "
                  f"{peak:>11} {size:>8} {bare:>11.1f} {1:>6.2f}")  # fmt: skip
            for fmt in args.formats.split(","):
                rows, seconds, peak, size = run_child(args.database_url, fmt, scope, folder)
                if rows != bare_rows:
                    raise SystemExit(f"{fmt} wrote {rows} rows, the bare copy {bare_rows}")
                print(f"{fmt:<8} {label:<6} {rows:>9,} {seconds:>8.1f} {rows / seconds:>9,.0f} "
                      f"{peak:>11} {size:>8} {bare:>11.1f} {seconds / bare:>6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
