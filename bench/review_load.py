"""Benchmark: concurrent simulated reviewers draining a round against gunicorn on PostgreSQL.

Creates its own database (dropped afterwards unless --keep), migrates it, seeds reviewers and a
round, starts gunicorn on 127.0.0.1:<free port>, logs every reviewer in over HTTP, and drains the
queue the way the page does: GET the next item (an HTMX partial), POST the verdict. Prints next-item
and submit latency p50/p99, throughput and the error count, then checks the database: every item
has exactly its required verdicts. Traffic goes to the loopback address only; every loop is bounded.

With --with-ingest N the run has two phases over two equal rounds: first the reviewers alone
(the baseline), then the reviewers again while a real ingest of N generated records runs through
`manage.py ingest --wait` and a Celery worker (Redis: --redis). It prints the review latency p99
of both phases side by side with the ingest throughput.

With --fresh it compares the queue on a database without planner statistics (as right after a
draw, or with autovacuum off) against the same database after ANALYZE: for each reviewer count
it builds a new database, draws a round of --items items with the real draw service, runs the
reviewers for --run-seconds (no ANALYZE anywhere in the fresh run; autovacuum as the server has
it), then repeats with ANALYZE after the draw. It prints cycles/s, next-item and submit p50/p99
and how many reviewers were told "empty" while an item they could take was waiting.

    .venv/bin/python bench/review_load.py --reviewers 50 --items 1500
    .venv/bin/python bench/review_load.py --reviewers 50 --items 1500 --with-ingest 200000
    .venv/bin/python bench/review_load.py --fresh --items 10000 --reviewer-counts 20,50
"""

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password that is long enough"  # noqa: S105 - throwaway bench users
ITEM_RE = re.compile(r"/review/items/(\d+)/verdict")
CODES = {"help": "general_info", "decline": "personal_dosing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def make_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "reviewapp.settings"
    import django

    django.setup()


def seed(
    reviewers: int,
    items: int,
    double_share: float,
    seed_value: int,
    rounds: int = 1,
    drawn: bool = False,
) -> list[str]:
    """Reviewers (one password hash shared, to save 50 key derivations) and `rounds` rounds of
    `items` each: the first open, the others drafts that open_round() opens one at a time.
    drawn=True: one round drawn by the draw service from a population instead."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from auditcore import roles
    from auditcore.models import AuditRound
    from tests.factories import (
        ModelVersionFactory,
        PolicyVersionFactory,
        SurfaceFactory,
        UserFactory,
    )

    call_command("migrate", verbosity=0)
    rng = random.Random(seed_value)
    group, _ = Group.objects.get_or_create(name=roles.REVIEWER)
    hashed = make_password(PASSWORD)
    names = [f"bench{i:03d}" for i in range(reviewers)]
    users = [UserFactory.build(username=name) for name in names]
    for user in users:
        user.password = hashed
    get_user_model().objects.bulk_create(users)
    group.user_set.add(*users)

    # Published, with the Medical category whose reason codes CODES uses.
    version = PolicyVersionFactory(policy__name="Bench policy")
    surface = SurfaceFactory(name="web")
    model = ModelVersionFactory(name="bench-model")
    if drawn:
        _seed_drawn_round(version, surface, model, items, double_share, rng)
        return names
    for number in range(rounds):
        _seed_round(
            number, version, surface, model, items, double_share, rng,
            AuditRound.Status.OPEN if number == 0 else AuditRound.Status.DRAFT,
        )  # fmt: skip
    return names


def _bench_interaction(prompt: str, **fields):
    """An unsaved interaction: a medical question the model answered."""
    from tests.factories import InteractionFactory

    return InteractionFactory.build(
        source="bench",
        prompt=prompt,
        earlier_turns=[{"role": "user", "content": "Hi"}],
        response="Up to 1,200 mg a day without a doctor's advice.",
        response_label="compliance",
        detector_version="bench",
        **fields,
    )


def _seed_round(number, version, surface, model, items, double_share, rng, status) -> None:
    from auditcore.models import Interaction, RoundItem
    from tests.factories import AuditRoundFactory, RoundItemFactory

    audit_round = AuditRoundFactory(
        name=f"Bench round {number + 1}",
        policy_version=version,
        salt=f"bench-{number}",
        status=status,
    )
    interactions = Interaction.objects.bulk_create(
        [
            _bench_interaction(
                f"Bench prompt {i}: how much ibuprofen can an adult take? " * 4,
                external_id=f"{number}-{i}",
                day=audit_round.period_start,
                surface=surface,
                model_version=model,
                u=rng.random() or 0.5,
                priority_key=0.5,
                stratum_key="bench",
            )
            for i in range(items)
        ]
    )
    RoundItem.objects.bulk_create(
        [
            RoundItemFactory.build(
                round=audit_round,
                interaction=interaction,
                required_reviews=2 if rng.random() < double_share else 1,
                queue_order=rng.random(),
            )
            for interaction in interactions
        ]
    )


def _seed_drawn_round(version, surface, model, items, double_share, rng) -> None:
    """A day of traffic in one stratum (a quarter more records than `items`, with impact
    weights), then a round over it drawn by the draw service, as a safety lead would."""
    from auditcore import sampling
    from auditcore.models import AuditRound, Interaction
    from auditcore.services.rounds import round_create, round_draw
    from tests.factories import DAY, StratumCountFactory

    population = items + items // 4
    weights = [rng.lognormvariate(0, 1) for _ in range(population)]
    Interaction.objects.bulk_create(
        [
            _bench_interaction(
                f"Drawn bench prompt {i}: is this dose of ibuprofen safe? " * 3,
                external_id=f"drawn-{i}",
                surface=surface,
                model_version=model,
                impact_weight=weight,
                u=sampling.record_u(f"bench\x1fdrawn-{i}", "bench"),
                priority_key=0.5,
            )
            for i, weight in enumerate(weights)
        ],
        batch_size=2000,
    )
    StratumCountFactory(
        surface=surface,
        model_version=model,
        outcome="compliance",
        count=population,
        impact_sum=sum(weights),
        impact_sq_sum=sum(w * w for w in weights),
    )
    audit_round = round_create(
        actor=None,
        name="Bench drawn round",
        policy_version=version,
        period_start=DAY,
        period_end=DAY,
        size_measure="sqrt_impact",
        double_review_share=double_share,
        budget=items,
    )
    AuditRound.objects.filter(pk=audit_round.pk).update(status=AuditRound.Status.DRAWING)
    round_draw(round_id=audit_round.pk)


def open_round(number: int) -> None:
    from auditcore.models import AuditRound

    AuditRound.objects.filter(name=f"Bench round {number + 1}").update(
        status=AuditRound.Status.OPEN
    )


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int):
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "reviewapp.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "75",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/login/", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("gunicorn did not start: " + process.stderr.read().decode()[-2000:])


def login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    client.get("/login/")
    response = client.post(
        "/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed for {username}: {response.status_code}")
    client.username = username
    return client


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        # perf_counter() at the end of each request, parallel to next_ms / submit_ms.
        self.next_at: list[float] = []
        self.submit_at: list[float] = []
        self.errors: list[str] = []
        self.verdicts = 0
        self.elapsed = 0.0
        # Reviewers told "empty", and those of them for whom an item was in fact waiting.
        self.empty_answers = 0
        self.false_empties = 0

    def during(self, start: float, end: float) -> tuple[list[float], list[float]]:
        """(next-item ms, submit ms) of the requests that ended within [start, end]."""
        return (
            [ms for ms, at in zip(self.next_ms, self.next_at, strict=True) if start <= at <= end],
            [
                ms
                for ms, at in zip(self.submit_ms, self.submit_at, strict=True)
                if start <= at <= end
            ],
        )


def item_was_waiting(username: str) -> bool:
    """After "empty": could this reviewer still take an item? Leases are neither skipped nor
    left to expire here, so what is available now was available when they heard "empty"."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from auditcore.selectors.review import available_items

    try:
        user = get_user_model().objects.get(username=username)
        return available_items(reviewer=user, now=timezone.now()).exists()
    finally:
        connection.close()


def reviewer_loop(client: httpx.Client, results: Results, args, rng: random.Random) -> None:
    headers = {"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]}
    deadline = time.monotonic() + args.max_seconds
    # Reviewers do not all open the page in the same millisecond.
    time.sleep(rng.uniform(0, args.think))
    while time.monotonic() < deadline:
        try:
            start = time.perf_counter()
            response = client.get("/review/", headers=headers)
            next_ms = (time.perf_counter() - start) * 1000
            found = ITEM_RE.search(response.text)
            with results.lock:
                results.next_ms.append(next_ms)
                results.next_at.append(time.perf_counter())
            if response.status_code != 200:
                raise RuntimeError(f"next item: HTTP {response.status_code}")
            if found is None:
                if "Your queue is empty" in response.text:
                    waiting = item_was_waiting(client.username)
                    with results.lock:
                        results.empty_answers += 1
                        results.false_empties += waiting
                    return
                raise RuntimeError("next item: no item and no empty-queue message")
            if args.think:
                time.sleep(rng.uniform(0.5, 1.5) * args.think)
            decision = rng.choice(["help", "decline"])
            start = time.perf_counter()
            response = client.post(
                f"/review/items/{found.group(1)}/verdict",
                data={"decision": decision, "reason_code": CODES[decision]},
                headers=headers,
            )
            submit_ms = (time.perf_counter() - start) * 1000
            with results.lock:
                results.submit_ms.append(submit_ms)
                results.submit_at.append(time.perf_counter())
            if response.status_code != 200 or "Your verdict is locked" not in response.text:
                raise RuntimeError(f"submit: HTTP {response.status_code}")
            if rng.random() < args.double_click:
                # A double click: the same POST again must answer the same locked verdict.
                again = client.post(
                    f"/review/items/{found.group(1)}/verdict",
                    data={"decision": decision, "reason_code": CODES[decision]},
                    headers=headers,
                )
                if again.status_code != 200 or "Your verdict is locked" not in again.text:
                    raise RuntimeError(f"double submit: HTTP {again.status_code}")
            with results.lock:
                results.verdicts += 1
        except Exception as error:  # a load test counts every failure, then goes on
            with results.lock:
                results.errors.append(repr(error)[:200])
            time.sleep(0.2)


def run_phase(clients: list[httpx.Client], args, seed_offset: int = 0) -> Results:
    """Every reviewer drains the open round(s); returns the timings."""
    results = Results()
    threads = [
        threading.Thread(
            target=reviewer_loop,
            args=(client, results, args, random.Random(args.seed + seed_offset + i)),
        )
        for i, client in enumerate(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.max_seconds + 60)
    results.elapsed = time.perf_counter() - started
    return results


def latency_line(label: str, values: list[float]) -> str:
    return (
        f"{label:<28} n={len(values):>6}  p50 {percentile(values, 0.5):7.1f} ms  "
        f"p99 {percentile(values, 0.99):7.1f} ms  "
        f"mean {statistics.fmean(values) if values else float('nan'):7.1f} ms"
    )


class IngestRun:
    """A real ingest: a Celery worker plus `manage.py ingest PATH --wait`, timed."""

    def __init__(self, env: dict[str, str], records: int, workers: int, workdir: Path) -> None:
        from auditcore.demo_data import generate_records, write_jsonl

        self.env = env
        self.log = workdir / f"ingest-{records}.jsonl"
        write_jsonl(generate_records(records, target_bytes=900, source_prefix="load"), self.log)
        self.records = records
        self.workers = workers
        self.worker: subprocess.Popen | None = None
        self.thread: threading.Thread | None = None
        self.started = self.ended = 0.0
        self.summary: dict = {}
        self.error = ""

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "reviewapp", "worker", "--loglevel", "warning",
             "--concurrency", str(self.workers), "--without-gossip", "--without-mingle"],
            env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def _run(self) -> None:
        import json

        self.started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "ingest", str(self.log),
             "--source", "load", "--wait"],
            env=self.env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=3600,
        )  # fmt: skip
        self.ended = time.perf_counter()
        if result.returncode != 0:
            self.error = result.stderr[-2000:]
            return
        self.summary = json.loads(result.stdout.strip().splitlines()[-1])

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            self.worker.wait(timeout=60)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def verify() -> tuple[int, int, int]:
    """(items, items with exactly their verdicts, verdicts) from the database."""
    from django.db.models import Count, F

    from auditcore.models import RoundItem, Verdict

    items = RoundItem.objects.annotate(n=Count("verdicts"))
    exact = items.filter(n=F("required_reviews"), verdict_count=F("required_reviews")).count()
    return items.count(), exact, Verdict.objects.count()


def fresh_run(args, env: dict[str, str], reviewers: int, analysed: bool) -> dict:
    """A new database, a round drawn by the draw service, `reviewers` reviewers for
    --run-seconds; with analysed=True, ANALYZE runs between the draw and the reviewers."""
    from django.db import connection, connections

    from auditcore.models import RoundItem, Verdict

    connections.close_all()
    make_database(f"{args.pg}/postgres", args.db_name)
    started = time.perf_counter()
    names = seed(reviewers, args.items, args.double_share, args.seed, drawn=True)
    drawn = RoundItem.objects.count()
    if analysed:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    connections.close_all()
    print(
        f"  {reviewers} reviewers, {'analysed' if analysed else 'fresh'}: drew {drawn} items "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    process, base = start_gunicorn(env, free_port(), args.workers, args.threads)
    try:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            clients = list(pool.map(lambda name: login(base, name), names))
        # Untimed: every reviewer opens the queue once, all at once, so that cold server
        # threads (connections, templates) are not counted; the timed run resumes that lease.
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            list(pool.map(lambda c: c.get("/review/", headers={"HX-Request": "true"}), clients))
        results = run_phase(
            clients, argparse.Namespace(**{**vars(args), "max_seconds": args.run_seconds})
        )
        for client in clients:
            client.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    row = {
        "claim_sql": claim_sql_ms(names[0]),
        "reviewers": reviewers,
        "database": "analysed" if analysed else "fresh",
        "items": drawn,
        "cycles": results.verdicts / results.elapsed,
        "next": results.next_ms,
        "submit": results.submit_ms,
        "empty": results.empty_answers,
        "false_empty": results.false_empties,
        "errors": len(results.errors),
        "verdicts": Verdict.objects.count(),
        "pending": RoundItem.objects.filter(status=RoundItem.Status.PENDING).count(),
    }
    connections.close_all()
    for error in results.errors[:3]:
        print("    error:", error)
    return row


def claim_sql_ms(username: str) -> float:
    """Median server time of the claim's SQL for one reviewer (EXPLAIN ANALYZE, 5 runs), read
    after the run: the HTTP timings include the web layer on a shared machine, this does not."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from auditcore.selectors.review import claim_candidates, open_round_ids
    from auditcore.services.review import claim_settings

    user = get_user_model().objects.get(username=username)
    times = []
    for _ in range(5):
        with transaction.atomic():
            claim_settings()
            plan = (
                claim_candidates(
                    reviewer=user, now=timezone.now(), round_id=open_round_ids()[0], skipped=False
                )
                .select_for_update(skip_locked=True, of=("self",))[:1]
                .explain(analyze=True)
            )
        times.append(float(re.search(r"Execution Time: ([\d.]+)", plan).group(1)))
    return statistics.median(times)


def fresh_comparison(args, env: dict[str, str]) -> None:
    counts = [int(n) for n in args.reviewer_counts.split(",")]
    rows = []
    for i, reviewers in enumerate(counts):
        # Alternate which goes first: on a shared machine the load drifts between runs.
        order = (False, True) if i % 2 == 0 else (True, False)
        pair = {analysed: fresh_run(args, env, reviewers, analysed) for analysed in order}
        rows += [pair[False], pair[True]]
    print()
    print(
        f"round of {rows[0]['items']} items drawn by the draw service, {args.run_seconds:.0f} s "
        f"per run, gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL, "
        f"think {args.think} s"
    )
    print(
        f"{'reviewers':>9} {'database':<9} {'cycles/s':>9} {'next p50':>9} {'next p99':>9} "
        f"{'submit p50':>10} {'submit p99':>10} {'empty':>6} {'false empty':>11} {'errors':>6} "
        f"{'pending left':>12} {'claim SQL ms':>12}"
    )
    for r in rows:
        print(
            f"{r['reviewers']:>9} {r['database']:<9} {r['cycles']:>9.1f} "
            f"{percentile(r['next'], 0.5):>9.1f} {percentile(r['next'], 0.99):>9.1f} "
            f"{percentile(r['submit'], 0.5):>10.1f} {percentile(r['submit'], 0.99):>10.1f} "
            f"{r['empty']:>6} {r['false_empty']:>11} {r['errors']:>6} {r['pending']:>12} "
            f"{r['claim_sql']:>12.2f}"
        )
    met = True
    for fresh, analysed in zip(rows[::2], rows[1::2], strict=True):
        ratio = fresh["cycles"] / analysed["cycles"]
        p99 = percentile(fresh["next"], 0.99)
        ok = fresh["false_empty"] == 0 and p99 < 100 and ratio >= 0.8
        met = met and ok and analysed["false_empty"] == 0
        print(
            f"{fresh['reviewers']} reviewers: fresh/analysed cycles/s {ratio:.2f}, fresh next p99 "
            f"{p99:.1f} ms, false empties {fresh['false_empty']} fresh / "
            f"{analysed['false_empty']} analysed"
        )
    print(
        "targets (0 false empties, fresh next p99 < 100 ms, fresh cycles/s within 20% of "
        f"analysed): {'MET' if met else 'NOT MET'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--double-share", type=float, default=0.2)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a reviewer reads before submitting (0: hammer the server)",
    )
    parser.add_argument(
        "--double-click", type=float, default=0.05, help="share of verdicts posted twice"
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=240)
    parser.add_argument("--pg", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--db-name", default="refusal_audit_review_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--with-ingest",
        type=int,
        default=0,
        metavar="N",
        help="a second phase with a real ingest of N records running (0: no ingest phase)",
    )
    parser.add_argument("--ingest-workers", type=int, default=2)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="compare a drawn round on a database without statistics with the same after ANALYZE",
    )
    parser.add_argument("--reviewer-counts", default="20,50", help="with --fresh")
    parser.add_argument(
        "--run-seconds", type=float, default=60, help="with --fresh: how long each run lasts"
    )
    args = parser.parse_args()

    make_database(f"{args.pg}/postgres", args.db_name)
    data_dir = tempfile.mkdtemp(prefix="review-bench-")
    env = {
        "DATABASE_URL": f"{args.pg}/{args.db_name}",
        "SECRET_KEY": "review-bench-secret-key",
        "DATA_DIR": data_dir,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.pop("REDIS_URL", None)
    process = None
    ingest = None
    try:
        setup_django(env)
        if args.fresh:
            fresh_comparison(args, env)
            return
        phases = 2 if args.with_ingest else 1
        names = seed(args.reviewers, args.items, args.double_share, args.seed, rounds=phases)
        if args.with_ingest:
            subprocess.run(["redis-cli", "-u", args.redis, "FLUSHDB"], check=True,
                           capture_output=True)  # fmt: skip
            ingest_env = {**os.environ, **env, "REDIS_URL": args.redis}
            started = time.perf_counter()
            ingest = IngestRun(ingest_env, args.with_ingest, args.ingest_workers, Path(data_dir))
            print(
                f"generated {args.with_ingest:,} records in {time.perf_counter() - started:.1f} s"
            )
            ingest.start_worker()
        port = free_port()
        process, base = start_gunicorn(env, port, args.workers, args.threads)
        # Password hashing is deliberately slow: log in a few at a time, outside the timing.
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            clients = list(pool.map(lambda name: login(base, name), names))
        print(f"logged in {len(clients)} reviewers in {time.perf_counter() - started:.1f} s")

        results = run_phase(clients, args)
        elapsed = results.elapsed
        with_ingest = None
        if ingest is not None:
            open_round(1)
            ingest.start()
            with_ingest = run_phase(clients, args, seed_offset=1000)
            ingest.wait()
        for client in clients:
            client.close()

        items, exact, verdicts = verify()
        print(
            f"{args.reviewers} reviewers, {items} items, think {args.think} s, "
            f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL"
        )
        print(
            f"drained in {elapsed:.1f} s: {results.verdicts} verdicts, "
            f"{results.verdicts / elapsed:.0f}/s ({verdicts} verdicts stored in all)"
        )
        for label, values in (("next item", results.next_ms), ("submit", results.submit_ms)):
            print(
                f"{label:<10} n={len(values):>6}  p50 {percentile(values, 0.5):7.1f} ms  "
                f"p99 {percentile(values, 0.99):7.1f} ms  "
                f"mean {statistics.fmean(values) if values else float('nan'):7.1f} ms"
            )
        print(f"errors: {len(results.errors)}")
        for error in results.errors[:5]:
            print("  ", error)
        if with_ingest is not None:
            report_ingest_phase(results, with_ingest, ingest)
        print(f"items with exactly their required verdicts: {exact} of {items}")
        ok = not results.errors and exact == items
        if with_ingest is not None:
            ok = ok and not with_ingest.errors and not ingest.error
        p99 = max(percentile(results.next_ms, 0.99), percentile(results.submit_ms, 0.99))
        print(f"target p99 < 100 ms and zero errors: {'MET' if ok and p99 < 100 else 'NOT MET'}")
    finally:
        if ingest is not None:
            ingest.wait()
            ingest.stop_worker()
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(f"{args.pg}/postgres", args.db_name)


def report_ingest_phase(baseline: Results, loaded: Results, ingest: IngestRun) -> None:
    """Review latency without and with the ingest running, next to the ingest throughput."""
    print()
    print(f"--- with a real ingest of {ingest.records:,} records running (same run) ---")
    if ingest.error:
        print(f"ingest FAILED: {ingest.error}")
        return
    received = ingest.summary.get("received", ingest.records)
    print(
        f"ingest: {ingest.seconds:.1f} s, {received / ingest.seconds:,.0f} records/s "
        f"({ingest.workers} worker processes): {ingest.summary}"
    )
    print(
        f"review phase drained in {loaded.elapsed:.1f} s: {loaded.verdicts} verdicts, "
        f"errors {len(loaded.errors)}"
    )
    for error in loaded.errors[:5]:
        print("  ", error)
    overlap_next, overlap_submit = loaded.during(ingest.started, ingest.ended)
    rows = [
        ("next item, no ingest", baseline.next_ms),
        ("next item, during ingest", overlap_next),
        ("submit, no ingest", baseline.submit_ms),
        ("submit, during ingest", overlap_submit),
    ]
    for label, values in rows:
        print(latency_line(label, values))
    p99_before = max(percentile(baseline.next_ms, 0.99), percentile(baseline.submit_ms, 0.99))
    p99_during = max(percentile(overlap_next, 0.99), percentile(overlap_submit, 0.99))
    print(
        f"review p99 {p99_before:.1f} ms without ingest, {p99_during:.1f} ms during ingest; "
        f"ingest {received / ingest.seconds:,.0f} records/s"
    )
    if loaded.elapsed < ingest.seconds:
        print(
            f"note: the reviewers finished {ingest.seconds - loaded.elapsed:.1f} s before the "
            "ingest; raise --items to cover the whole ingest"
        )


if __name__ == "__main__":
    main()
