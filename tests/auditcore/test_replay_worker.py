"""A replay run through the broker to a real worker process (PostgreSQL and Redis only)."""

import pytest

from auditcore.models import ReplayResult, ReplayRun
from auditcore.services import replay as svc
from tests.conftest import require_services, wait_until
from tests.support.fake_chat_server import FakeChatServer


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_replays_a_run_in_chunks(safety_lead, celery_worker_process):
    require_services()
    from auditcore import tasks

    corpus = svc.corpus_create(actor=safety_lead, name="worker corpus")
    for i in range(120):  # more than one chunk
        svc.corpus_prompt_add(actor=safety_lead, corpus_id=corpus.pk, prompt=f"Question {i}")
    with FakeChatServer("flaky-429:1") as server:
        endpoint = svc.endpoint_create(
            actor=safety_lead, name="w", base_url=server.base_url, model="m"
        )
        run = svc.replay_run_create(actor=safety_lead, corpus_id=corpus.pk, endpoint_id=endpoint.pk)
        tasks.replay_run_enqueue(run.pk)

        def finished():
            run.refresh_from_db()
            return run.is_finished

        assert wait_until(finished, timeout=120)
    assert run.status == ReplayRun.Status.SUCCEEDED
    assert (run.answered, run.failed) == (120, 0)
    assert ReplayResult.objects.filter(run=run).count() == 120
