"""A worker killed with SIGKILL mid re-categorisation: the redelivered task resumes after the
last finished chunk, and the job ends with every interaction classified once and StratumCount
equal to the table."""

import time

import pytest
from django.db import connection

from auditcore.models import Interaction, ModelVersion, RecategoriseJob, StratumCount, Surface
from auditcore.services.policy import (
    category_create,
    policy_create,
    policy_version_draft_from,
    policy_version_publish,
)
from auditcore.services.recategorise import recategorise_job_create
from auditcore.tasks import recategorise_job_enqueue
from tests.conftest import WorkerProcess, require_services, wait_until
from tests.integration.test_worker_faults import ENV, RESTART_AFTER
from tests.support.traffic import DAY

pytestmark = pytest.mark.services

ROWS = 120_000
PHISHING_EVERY = 10


@pytest.fixture
def broker_mode():
    from celery import current_app

    current_app.conf.task_always_eager = False
    yield
    current_app.conf.task_always_eager = True


def _load_traffic() -> None:
    """ROWS interactions of DAY, one in PHISHING_EVERY a phishing prompt filed under security."""
    surface = Surface.objects.create(name="chat")
    model = ModelVersion.objects.create(name="m-recat")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auditcore_interaction (source, external_id, occurred_at, day, surface_id,
                model_version_id, conversation_id, turn, prompt, prompt_digest, earlier_turns,
                response, gateway_action, user_ref, user_segment, impact_weight,
                session_importance, category, category_score, response_label, response_score,
                served_label, detector_version, u, priority_key, stratum_key, redaction_count,
                metadata, created_at)
            SELECT 'recat', 'r' || g, now(), %s, %s, %s, '', 1,
                CASE WHEN mod(g, %s) = 0 THEN 'Is this text a phishing scam? ' || g
                     ELSE 'How do I remove malware from laptop ' || g END,
                decode(md5(g::text), 'hex'), '[]', 'Here is how.', 'none', '', 'unknown', 1, 1,
                'security', 0.6, 'compliance', 0.9, 'compliance', 't', 0.5, 0.5,
                %s::text || '|security|compliance|m-recat', 0, '{}', now()
            FROM generate_series(1, %s) g
            """,
            [DAY, surface.pk, model.pk, PHISHING_EVERY, DAY, ROWS],
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


def _version_adding_fraud():
    security = {"slug": "security", "name": "Security", "keywords": ["malware", "phishing"]}
    v1 = policy_version_publish(
        actor=None, version=policy_create(actor=None, name="Recat", categories=[security])
    )
    draft = policy_version_draft_from(actor=None, source=v1)
    category_create(
        actor=None,
        version=draft,
        data={"slug": "fraud", "name": "Fraud", "keywords": ["phishing", "scam"]},
    )
    return policy_version_publish(actor=None, version=draft)


def test_a_worker_killed_mid_recategorisation_resumes_and_counts_stay_exact(
    transactional_db, broker_mode
):
    require_services()
    version = _version_adding_fraud()
    _load_traffic()
    job = recategorise_job_create(actor=None, version=version, period_start=DAY, period_end=DAY)
    first = WorkerProcess(env=ENV)
    second = WorkerProcess(env=ENV)
    try:
        first.start()
        recategorise_job_enqueue(job.pk)  # outside a transaction: sent at once

        def started() -> bool:
            job.refresh_from_db()
            return job.processed >= ROWS // 10 or job.is_finished

        assert wait_until(started, timeout=90, interval=0.02), first.log_path.read_text()
        first.kill()
        job.refresh_from_db()
        assert job.status == RecategoriseJob.Status.RUNNING, "killed too late to prove anything"
        assert 0 < job.processed < ROWS
        time.sleep(RESTART_AFTER)
        second.start()

        def finished() -> bool:
            job.refresh_from_db()
            return job.is_finished

        assert wait_until(finished, timeout=180), second.log_path.read_text()[-3000:]
    finally:
        first.kill()
        second.stop()

    assert job.status == RecategoriseJob.Status.SUCCEEDED, job.error
    phishing = ROWS // PHISHING_EVERY
    assert (job.total, job.processed, job.changed) == (ROWS, ROWS, phishing)
    assert job.transitions == {"security→fraud": phishing}
    assert Interaction.objects.filter(category="fraud").count() == phishing
    assert not Interaction.objects.filter(category="fraud", stratum_key__contains="|security|")
    counts = {c.category: c.count for c in StratumCount.objects.filter(count__gt=0)}
    assert counts == {"fraud": phishing, "security": ROWS - phishing}
