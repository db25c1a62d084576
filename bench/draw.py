"""Benchmark: drawing an audit round over 1,000,000 interactions in 60 strata on PostgreSQL.

Creates its own database (dropped and recreated; the name comes from --database-url), migrates
it, loads synthetic interactions with COPY and their StratumCount rows, then times the round
draw (the service the Celery task calls): a first draw, an extension after quotas grow, and a
draw with the impact size measure. Prints the times and the plan shape of one stratum's read.

    .venv/bin/python bench/draw.py --database-url postgres://root@127.0.0.1:5432/bench_draw
"""

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAYS = 5
MODELS = ("acme-2026-10", "acme-2026-11")
CATEGORIES = ("medical", "finance", "security")
OUTCOMES = ("refusal", "compliance")  # 5 × 2 × 3 × 2 = 60 strata
START = dt.date(2026, 11, 1)


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"unsafe database name {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def count_strata(cursor) -> None:
    """Fill the per-stratum counts that ingest would have kept, in one statement."""
    cursor.execute(
        """
        INSERT INTO auditcore_stratumcount
            (day, surface_id, model_version_id, category, outcome, gateway_changed, count,
             impact_sum, impact_sq_sum)
        SELECT day, surface_id, model_version_id, category, response_label,
               gateway_action <> 'none', count(*),
               sum(impact_weight), sum(impact_weight * impact_weight)
        FROM auditcore_interaction GROUP BY 1, 2, 3, 4, 5, 6
        """
    )
    cursor.execute("ANALYZE auditcore_interaction")


def load(rows: int) -> None:
    import numpy as np
    from django.db import connection
    from interactions import copy_interactions

    from auditcore import sampling
    from auditcore.consistency import prompt_digest
    from tests.factories import ModelVersionFactory, SurfaceFactory

    surface = SurfaceFactory(name="chat")
    models = [ModelVersionFactory(name=m) for m in MODELS]
    rng = np.random.default_rng(5)
    strata = [
        (START + dt.timedelta(days=d), m, c, o)
        for d in range(DAYS)
        for m in models
        for c in CATEGORIES
        for o in OUTCOMES
    ]
    # Skewed stratum sizes, like real traffic: compliance dominates, refusals are rare.
    sizes = np.array([8.0 if s[3] == "compliance" else 1.0 for s in strata])
    sizes *= rng.uniform(0.5, 1.5, len(strata))
    which = rng.choice(len(strata), size=rows, p=sizes / sizes.sum())
    weights = np.round(rng.lognormal(0.0, 1.0, rows), 4)
    u = rng.uniform(2**-53, 1.0, rows)
    keys = [sampling.stratum_key(d, c, o, m.name) for d, m, c, o in strata]
    started = time.perf_counter()

    def records():
        for i in range(rows):
            day, model, category, outcome = strata[which[i]]
            prompt = f"prompt {i}"
            yield {
                "external_id": f"r{i}", "day": day, "model_version_id": model.pk,
                "prompt": prompt, "prompt_digest": prompt_digest(prompt),
                "impact_weight": float(weights[i]), "category": category,
                "response_label": outcome, "served_label": outcome,
                "u": float(u[i]), "priority_key": float(u[i]), "stratum_key": keys[which[i]],
            }  # fmt: skip

    with connection.cursor() as cursor:
        copy_interactions(
            cursor, records(), surface_id=surface.pk, response="response", user_segment="unknown",
            category_score=0.5, response_score=0.5,
        )  # fmt: skip
        count_strata(cursor)
    print(f"loaded {rows:,} interactions in {time.perf_counter() - started:.1f}s (COPY)")


def timed_draw(audit_round) -> float:
    from auditcore.models import AuditRound
    from auditcore.services.rounds import round_draw

    AuditRound.objects.filter(pk=audit_round.pk).update(status=AuditRound.Status.DRAWING)
    started = time.perf_counter()
    round_draw(round_id=audit_round.pk)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/bench_draw"),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=int, default=6000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database loaded by an earlier run"
    )
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the draw bench needs PostgreSQL")

    if not args.reuse:
        recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from auditcore.models import (
        AuditRound,
        Category,
        Interaction,
        Policy,
        PolicyVersion,
        RoundItem,
        RoundStratum,
    )
    from auditcore.services.policy import policy_create, policy_version_publish
    from auditcore.services.rounds import round_create, round_quotas_set

    call_command("migrate", verbosity=0)
    if args.reuse and Interaction.objects.count() >= args.rows:
        RoundItem.objects.all().delete()
        AuditRound.objects.all().delete()
        for model in (Category, PolicyVersion, Policy):
            model.objects.all().delete()
    else:
        load(args.rows)

    categories = [{"slug": c, "help_when": ["a"], "decline_when": ["b that c"]} for c in CATEGORIES]
    version = policy_version_publish(
        actor=None, version=policy_create(actor=None, name="Bench", categories=categories)
    )
    end = START + dt.timedelta(days=DAYS - 1)
    results = []
    for name, measure in (("uniform", "uniform"), ("impact", "impact")):
        # Rounds may not share a frame: the previous measure's round makes way for this one.
        RoundItem.objects.all().delete()
        AuditRound.objects.all().delete()
        audit_round = round_create(
            actor=None,
            name=f"bench-{name}",
            policy_version=version,
            period_start=START,
            period_end=end,
            size_measure=measure,
            budget=args.budget,
            gold_rate=0.0,
        )
        quotas = {(c, "refusal"): 200 for c in CATEGORIES}
        round_quotas_set(actor=None, audit_round=audit_round, quotas=quotas)
        seconds = timed_draw(audit_round)
        strata = RoundStratum.objects.filter(round=audit_round).count()
        items = RoundItem.objects.filter(round=audit_round).count()
        results.append((f"first draw, {measure}", seconds, strata, items))
        if measure == "uniform":
            round_quotas_set(
                actor=None,
                audit_round=audit_round,
                quotas={(c, "refusal"): 600 for c in CATEGORIES},
                budget=args.budget * 2,
            )
            seconds = timed_draw(audit_round)
            items = RoundItem.objects.filter(round=audit_round).count()
            results.append(("extension (quotas ×3, budget ×2)", seconds, strata, items))

    print(f"{'draw':<36} {'seconds':>8} {'strata':>7} {'items':>7}")
    for label, seconds, strata, items in results:
        flag = "" if seconds < 5 else "  (over the 5 s target)"
        print(f"{label:<36} {seconds:>8.2f} {strata:>7} {items:>7}{flag}")

    from auditcore.services.rounds import _PG_ARRAYS_SQL

    sql = _PG_ARRAYS_SQL.format(table=Interaction._meta.db_table, scope="", size="impact_weight")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, ["none", START, end, "gold"])
        print("\nplan of the draw's read (one pass over the period, arrays per stratum):")
        for (line,) in cursor.fetchall():
            print("  " + line)
    biggest = RoundStratum.objects.order_by("-population").first()
    print(f"largest stratum: N = {biggest.population:,}, n = {biggest.sampled}")


if __name__ == "__main__":
    main()
