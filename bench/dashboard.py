"""Benchmark: the dashboard page over 1,000,000 interactions and 5,000 reviews on PostgreSQL.

Creates its own database (dropped and recreated; the name comes from --database-url), migrates,
loads synthetic interactions with COPY (3 surfaces, 2 model versions, 4 categories, 4 user
segments, 5 days, repeated prompts so the consistency page has work) and their StratumCount
rows, draws a round with the real draw service (budget 5,000), gives every drawn item a final
decision and a verdict with an observed label, then loads the dashboard page repeatedly as a
safety lead through Django's test client and prints p50/p95 and the number of queries. The
consistency page (loaded lazily by the dashboard) is timed separately.

    .venv/bin/python bench/dashboard.py --database-url postgres://root@127.0.0.1:5432/bench_dashboard
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from draw import count_strata, recreate_database  # noqa: E402

DAYS = 5
SURFACES = ("support-chat", "web", "mobile")
MODELS = ("acme-2026-10", "acme-2026-11")
CATEGORIES = ("medical", "finance", "security", "general")
SEGMENTS = ("general", "non_native_en", "enterprise", "minor_risk")
OUTCOMES = ("refusal", "partial_refusal", "compliance")
START = dt.date(2026, 11, 1)


def load(rows: int) -> None:
    import numpy as np
    from django.db import connection
    from interactions import copy_interactions

    from auditcore import sampling
    from auditcore.consistency import prompt_digest
    from tests.factories import ModelVersionFactory, SurfaceFactory

    surfaces = [SurfaceFactory(name=s) for s in SURFACES]
    models = [ModelVersionFactory(name=m) for m in MODELS]
    rng = np.random.default_rng(7)
    day = rng.integers(0, DAYS, rows)
    surface = rng.integers(0, len(surfaces), rows)
    model = rng.integers(0, len(models), rows)
    category = rng.integers(0, len(CATEGORIES), rows)
    segment = rng.choice(len(SEGMENTS), rows, p=[0.6, 0.2, 0.15, 0.05])
    outcome = rng.choice(3, rows, p=[0.07, 0.03, 0.90])
    served = np.where(rng.random(rows) < 0.02, 0, outcome)  # the gateway blocks 2%
    # A pool of 50,000 prompt texts: common questions recur across surfaces.
    prompt_id = rng.zipf(1.3, rows) % 50_000
    weights = np.round(rng.lognormal(0.0, 1.0, rows), 4)
    u = rng.uniform(2**-53, 1.0, rows)
    days = [START + dt.timedelta(days=d) for d in range(DAYS)]
    keys = {}
    digests: dict[str, bytes] = {}

    def records():
        for i in range(rows):
            d, m, c, o = int(day[i]), int(model[i]), int(category[i]), int(outcome[i])
            key = keys.get((d, m, c, o))
            if key is None:
                key = keys[(d, m, c, o)] = sampling.stratum_key(
                    days[d], CATEGORIES[c], OUTCOMES[o], MODELS[m]
                )
            prompt = f"How do I handle case {prompt_id[i]} in {CATEGORIES[c]}?"
            digest = digests.get(prompt)
            if digest is None:
                digest = digests[prompt] = prompt_digest(prompt)
            yield {
                "external_id": f"r{i}", "day": days[d], "surface_id": surfaces[surface[i]].pk,
                "model_version_id": models[m].pk, "prompt": prompt, "prompt_digest": digest,
                "gateway_action": "blocked" if served[i] != o else "none",
                "user_segment": SEGMENTS[segment[i]], "impact_weight": float(weights[i]),
                "category": CATEGORIES[c], "response_label": OUTCOMES[o],
                "served_label": OUTCOMES[served[i]], "u": float(u[i]),
                "priority_key": float(u[i]), "stratum_key": key,
            }  # fmt: skip

    started = time.perf_counter()
    with connection.cursor() as cursor:
        copy_interactions(
            cursor, records(), response="response", category_score=0.5, response_score=0.5
        )
        count_strata(cursor)
    print(f"loaded {rows:,} interactions in {time.perf_counter() - started:.1f}s (COPY)")


def review_everything(audit_round, reviewer) -> int:
    """Final decisions and one verdict with an observed label per drawn item, in bulk."""
    import numpy as np
    from django.db import connection

    from auditcore.models import RoundItem

    items = list(
        RoundItem.objects.filter(round=audit_round).values_list(
            "id", "interaction__response_label", "policy_version_id"
        )
    )
    rng = np.random.default_rng(11)
    now = dt.datetime.now(dt.UTC)
    ids, finals, observed = [], [], []
    for item_id, label, _ in items:
        refused = label != "compliance"
        p_help = 0.35 if refused else 0.97
        r = rng.random()
        finals.append("unsure" if r > 0.98 else ("help" if r < p_help * 0.98 else "decline"))
        observed.append(label if rng.random() < 0.93 else "compliance")
        ids.append(item_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE auditcore_rounditem AS i SET status = 'done', final_decision = t.f, "
            "verdict_count = 1 FROM unnest(%s::bigint[], %s::text[]) AS t(id, f) WHERE i.id = t.id",
            [ids, finals],
        )
        cursor.execute(
            "INSERT INTO auditcore_verdict (item_id, reviewer_id, decision, reason_code, "
            "policy_clause, note, policy_version_id, seconds_spent, locked_at, observed_label, "
            "observed_at, superseded, observed_served_label, category_wrong, suggested_category, "
            "after_reveal) "
            "SELECT t.id, %s, t.f, '', '', '', %s, 30, %s, t.o, %s, false, '', false, '', false "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(id, f, o)",
            [reviewer.pk, items[0][2], now, now, ids, finals, observed],
        )
        cursor.execute("ANALYZE")
    return len(ids)


def timed(client, url: str, repeat: int) -> tuple[list[float], int]:
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times, len(queries)


def report(label: str, times: list[float], queries: int, target: float | None) -> None:
    times = sorted(times)
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    flag = "" if target is None or p95 < target else f"  (over the {target:.0f} ms target)"
    print(f"{label:<34} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  queries {queries:>3}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/bench_dashboard"),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's database")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the dashboard bench needs PostgreSQL")
    if not args.reuse:
        recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from auditcore.models import AuditRound, Interaction, RoundItem
    from auditcore.services.policy import policy_create, policy_version_publish
    from auditcore.services.rounds import round_create, round_draw, round_quotas_set
    from tests.factories import SafetyLeadFactory

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")
    call_command("migrate", verbosity=0)
    audit_round = AuditRound.objects.filter(name="bench-dashboard").first()
    if not (args.reuse and audit_round and Interaction.objects.count() >= args.rows):
        load(args.rows)
        categories = [
            {"slug": c, "help_when": ["a"], "decline_when": ["b that c"]} for c in CATEGORIES
        ]
        version = policy_version_publish(
            actor=None, version=policy_create(actor=None, name="Bench", categories=categories)
        )
        audit_round = round_create(
            actor=None,
            name="bench-dashboard",
            policy_version=version,
            period_start=START,
            period_end=START + dt.timedelta(days=DAYS - 1),
            budget=args.budget,
        )
        round_quotas_set(
            actor=None,
            audit_round=audit_round,
            quotas={(c, "refusal"): 300 for c in CATEGORIES},
            budget=args.budget,
        )
        AuditRound.objects.filter(pk=audit_round.pk).update(status=AuditRound.Status.DRAWING)
        started = time.perf_counter()
        round_draw(round_id=audit_round.pk)
        print(f"drew {RoundItem.objects.filter(round=audit_round).count():,} items "
              f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
        lead = SafetyLeadFactory(username="bench-lead", password="x" * 20)
        reviewed = review_everything(audit_round, lead)
        print(f"reviewed {reviewed:,} items (final decisions and observed labels)")
    from django.contrib.auth import get_user_model

    lead = get_user_model().objects.get(username="bench-lead")
    client = Client()
    client.force_login(lead)
    print(f"{Interaction.objects.count():,} interactions; round {audit_round.pk}")
    page = reverse("dashboard:round", args=[audit_round.pk])
    report("dashboard page (round)", *timed(client, page, args.repeat), target=500)
    report("dashboard page (index)", *timed(client, reverse("dashboard:index"), args.repeat), 500)
    report("API estimates JSON", *timed(client, f"/api/v1/rounds/{audit_round.pk}/estimates",
                                          args.repeat), None)  # fmt: skip
    consistency = reverse("dashboard:consistency", args=[audit_round.pk])
    report("consistency page (lazy, separate)", *timed(client, consistency, 3), None)


if __name__ == "__main__":
    main()
