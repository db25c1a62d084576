"""A worker killed with SIGKILL mid-draw, mid-replay and mid-export: after a restart each job
ends right.

The broker redelivers the unacknowledged task (acks_late, a 3 s visibility timeout) to a fresh
worker. The draw then equals a fresh draw with the same salt; the replay has one result per prompt;
the export, taken over once the killed run's lease lapses, holds every labelled row once.
"""

import csv
import datetime as dt
import time

import numpy as np
import pytest
from django.db import connection

from auditcore import sampling, tasks
from auditcore.consistency import prompt_digest
from auditcore.models import (
    AuditRound,
    ExportJob,
    ModelVersion,
    ReplayResult,
    ReplayRun,
    RoundItem,
    RoundStratum,
    Surface,
)
from auditcore.services import replay as replay_svc
from auditcore.services.rounds import round_create, round_draw, round_draw_request
from tests.conftest import WorkerProcess, require_services, wait_until
from tests.support.fake_chat_server import FakeChatServer
from tests.support.review_round import make_round
from tests.support.round_data import published_policy

pytestmark = pytest.mark.services

ENV = {"CELERY_VISIBILITY_TIMEOUT": "3"}
# A new worker hands out unacknowledged messages older than the visibility timeout when it
# starts, and after that only every ~100 s (kombu: unacked_restore_interval × throttle): so the
# replacement starts once the timeout has passed since the killed worker took the task.
RESTART_AFTER = 3.5
START = dt.date(2026, 11, 10)
DAYS = 3
CATEGORIES = ("medical", "finance")
OUTCOMES = ("refusal", "compliance")
# Enough traffic that the draw runs for a few seconds: reading it dominates.
ROWS = 300_000
BUDGET = 20_000
PROMPTS = 200


@pytest.fixture
def broker_mode():
    from celery import current_app

    current_app.conf.task_always_eager = False
    yield
    current_app.conf.task_always_eager = True


def _load_traffic(rows: int) -> None:
    """COPY `rows` interactions over DAYS × categories × outcomes, with their StratumCount rows."""
    surface = Surface.objects.create(name="chat")
    model = ModelVersion.objects.create(name="m-faults")
    strata = [
        (START + dt.timedelta(days=d), c, o)
        for d in range(DAYS)
        for c in CATEGORIES
        for o in OUTCOMES
    ]
    keys = [sampling.stratum_key(d, c, o, model.name) for d, c, o in strata]
    rng = np.random.default_rng(10)
    which = rng.integers(0, len(strata), rows)
    weights = np.round(rng.lognormal(0.0, 1.0, rows), 4)
    u = rng.uniform(2**-53, 1.0, rows)
    now = dt.datetime.now(dt.UTC)
    columns = (
        "source, external_id, occurred_at, day, surface_id, model_version_id, conversation_id, "
        "turn, prompt, prompt_digest, earlier_turns, response, gateway_action, user_ref, "
        "user_segment, impact_weight, category, category_score, response_label, response_score, "
        "served_label, detector_version, u, priority_key, stratum_key, redaction_count, metadata, "
        "created_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY auditcore_interaction ({columns}) FROM STDIN") as copy:
            for i in range(rows):
                day, category, outcome = strata[which[i]]
                copy.write_row(
                    (
                        "faults", f"f{i}", now, day, surface.pk, model.pk, "", 1,
                        f"prompt {i}", prompt_digest(f"prompt {i}"), "[]", "response", "none", "",
                        "unknown",
                        float(weights[i]), category, 0.5, outcome, 0.5, outcome, "t",
                        float(u[i]), float(u[i]), keys[which[i]], 0, "{}", now,
                    )
                )  # fmt: skip
        cursor.execute(
            """
            INSERT INTO auditcore_stratumcount
                (day, surface_id, model_version_id, category, outcome, gateway_changed, count,
                 impact_sum, impact_sq_sum)
            SELECT day, surface_id, model_version_id, category, response_label,
                   gateway_action <> 'none', count(*),
                   sum(impact_weight), sum(impact_weight * impact_weight)
            FROM auditcore_interaction WHERE source = 'faults' GROUP BY 1, 2, 3, 4, 5, 6
            """
        )
        cursor.execute("ANALYZE auditcore_interaction")


def _round(name: str, version, salt: str) -> AuditRound:
    audit_round = round_create(
        actor=None,
        name=name,
        policy_version=version,
        period_start=START,
        period_end=START + dt.timedelta(days=DAYS - 1),
        size_measure="impact",
        double_review_share=0.3,
        gold_rate=0.0,
        budget=BUDGET,
    )
    AuditRound.objects.filter(pk=audit_round.pk).update(salt=salt)
    audit_round.refresh_from_db()
    return audit_round


def _drawn(audit_round: AuditRound):
    items = sorted(
        RoundItem.objects.filter(round=audit_round).values_list(
            "interaction_id", "stratum__stratum_key", "inclusion_probability", "weight",
            "required_reviews", "queue_order", "is_gold",
        )
    )  # fmt: skip
    strata = sorted(
        RoundStratum.objects.filter(round=audit_round).values_list(
            "stratum_key", "population", "planned", "sampled", "tau", "drawn"
        )
    )
    return items, strata


def test_a_worker_killed_mid_draw_is_redelivered_and_the_draw_equals_a_fresh_one(
    transactional_db, broker_mode
):
    require_services()
    from auditcore import tasks

    version = published_policy()
    _load_traffic(ROWS)
    audit_round = _round("Killed mid-draw", version, salt="same-salt")
    first = WorkerProcess(env=ENV)
    second = WorkerProcess(env=ENV)
    try:
        first.start()
        round_draw_request(actor=None, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)  # autocommit: queued now

        def drawing_started() -> bool:
            audit_round.refresh_from_db()
            return audit_round.draw_progress >= 0.05 or audit_round.status != "drawing"

        assert wait_until(drawing_started, timeout=60, interval=0.02), first.log_path.read_text()
        first.kill()
        audit_round.refresh_from_db()
        assert audit_round.status == AuditRound.Status.DRAWING, "killed too late to prove anything"
        assert not RoundItem.objects.filter(round=audit_round).exists()  # one transaction: none

        time.sleep(RESTART_AFTER)
        second.start()

        def opened() -> bool:
            audit_round.refresh_from_db()
            return audit_round.status != AuditRound.Status.DRAWING

        assert wait_until(opened, timeout=120), second.log_path.read_text()[-3000:]
    finally:
        first.kill()
        second.stop()

    assert audit_round.status == AuditRound.Status.OPEN and audit_round.draw_error == ""
    # A fresh draw of an identical round with the same salt, in this process. Its frame is the
    # killed round's on purpose, so it is copied past round_create's overlap rule.
    fresh = AuditRound.objects.get(pk=audit_round.pk)
    fresh.pk, fresh.name, fresh.strata_dims = None, "Fresh draw", None
    fresh.status, fresh.draw_progress = AuditRound.Status.DRAWING, 0.0
    fresh.save()
    round_draw(round_id=fresh.pk)
    items, strata = _drawn(audit_round)
    fresh_items, fresh_strata = _drawn(fresh)
    assert len(items) >= BUDGET
    assert len({i[0] for i in items}) == len(items)  # no interaction twice
    assert items == fresh_items
    assert strata == fresh_strata


def test_a_worker_killed_mid_replay_is_redelivered_and_every_prompt_has_one_result(
    transactional_db, broker_mode, safety_lead
):
    require_services()

    corpus = replay_svc.corpus_create(actor=safety_lead, name="faults corpus")
    for i in range(PROMPTS):
        replay_svc.corpus_prompt_add(actor=safety_lead, corpus_id=corpus.pk, prompt=f"Q {i}?")
    first = WorkerProcess(env=ENV)
    second = WorkerProcess(env=ENV)
    with FakeChatServer("slow:0.05") as server:
        endpoint = replay_svc.endpoint_create(
            actor=safety_lead, name="slow", base_url=server.base_url, model="m", concurrency=2
        )
        run = replay_svc.replay_run_create(
            actor=safety_lead, corpus_id=corpus.pk, endpoint_id=endpoint.pk
        )
        try:
            first.start()
            tasks.replay_run_enqueue(run.pk)

            def some_results() -> bool:
                return ReplayResult.objects.filter(run=run).count() >= 30

            assert wait_until(some_results, timeout=60, interval=0.05), first.log_path.read_text()[
                -3000:
            ]
            first.kill()
            done_at_kill = ReplayResult.objects.filter(run=run).count()
            assert done_at_kill < PROMPTS, "killed too late to prove anything"
            run.refresh_from_db()
            assert run.status == ReplayRun.Status.RUNNING

            time.sleep(RESTART_AFTER)
            second.start()

            def finished() -> bool:
                run.refresh_from_db()
                return run.is_finished

            assert wait_until(finished, timeout=120), (
                f"run stuck at {ReplayResult.objects.filter(run=run).count()}/{PROMPTS}"
            )
        finally:
            first.kill()
            second.stop()

    assert run.status == ReplayRun.Status.SUCCEEDED
    results = ReplayResult.objects.filter(run=run)
    assert results.count() == PROMPTS
    assert results.values("prompt_id").distinct().count() == PROMPTS
    assert set(results.values_list("prompt_id", flat=True)) == set(
        run.snapshot.prompts.values_list("pk", flat=True)
    )
    assert (run.answered, run.failed) == (PROMPTS, 0)


EXPORT_ITEMS = 1500


def test_a_worker_killed_mid_export_is_taken_over_and_the_file_is_whole(
    transactional_db, broker_mode, admin_user
):
    """The killed run's lease lapses; the redelivered task claims the export under a new token,
    clears the partial file and writes every labelled row exactly once."""
    require_services()
    from auditcore.services.exports import export_job_create, export_job_file, exports_dir

    audit_round = make_round(items=EXPORT_ITEMS)
    RoundItem.objects.filter(round=audit_round).update(
        status=RoundItem.Status.DONE, final_decision="help"
    )
    # Small batches make the export last a few seconds; a short lease lets the new run claim it.
    env = {**ENV, "EXPORT_BATCH_ROWS": "5", "EXPORT_COPY_ROWS": "5", "EXPORT_LEASE_SECONDS": "2"}
    first, second = WorkerProcess(env=env), WorkerProcess(env=env)
    try:
        first.start()
        job = export_job_create(actor=admin_user, fmt="csv", round_id=audit_round.pk)
        tasks.export_job_enqueue(job.pk)

        def under_way() -> bool:
            job.refresh_from_db()
            return job.rows_written >= 100

        assert wait_until(under_way, timeout=60, interval=0.05), first.log_path.read_text()[-3000:]
        first.kill()
        job.refresh_from_db()
        killed_token = job.lease_token
        assert job.status == ExportJob.Status.RUNNING
        assert job.rows_written < EXPORT_ITEMS, "killed too late to prove anything"
        assert list(exports_dir().glob(f"labels-{job.pk}-*.part")), "no partial file to clear"

        time.sleep(RESTART_AFTER)
        second.start()

        def finished() -> bool:
            job.refresh_from_db()
            return job.is_finished

        assert wait_until(finished, timeout=120), f"export stuck at {job.rows_written} rows"
    finally:
        first.kill()
        second.stop()

    assert job.status == ExportJob.Status.SUCCEEDED, job.error
    assert job.lease_token != killed_token
    assert job.rows_written == EXPORT_ITEMS
    with open(export_job_file(job=job), newline="", encoding="utf-8") as handle:
        item_ids = [int(row["item_id"]) for row in csv.DictReader(handle)]
    assert sorted(item_ids) == sorted(
        RoundItem.objects.filter(round=audit_round).values_list("pk", flat=True)
    )
    assert not list(exports_dir().glob(f"labels-{job.pk}-*.part"))
