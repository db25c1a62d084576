"""Re-categorising a period's stored traffic under a new policy version, as a background job."""

import datetime as dt

import pytest
from django.db.models import Sum

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, Interaction, RecategoriseJob, StratumCount
from auditcore.services import recategorise
from auditcore.services.recategorise import recategorise_job_create, recategorise_job_run
from tests.support.policy_review import publish_reviewed
from tests.support.recategorise_data import PHISHING_PROMPT, draft_adding_fraud, published_v1
from tests.support.review_round import items_of, make_round
from tests.support.traffic import DAY, stored_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def analyses(monkeypatch) -> list[bool]:
    """The job's closing ANALYZE, recorded instead of run: ANALYZE writes a table's row estimate
    in place, so even a rolled-back test would leave planner statistics behind for the tests
    that need a fresh database (the claim's plan). A real worker runs it in
    tests/integration/test_recategorise_worker.py."""
    calls: list[bool] = []
    monkeypatch.setattr(recategorise, "_analyze", lambda: calls.append(True))
    return calls


def _counts() -> dict[str, int]:
    rows = StratumCount.objects.values("category").annotate(n=Sum("count"))
    return {r["category"]: r["n"] for r in rows if r["n"]}


@pytest.fixture
def traffic(safety_lead):
    """A drawn phishing item, then v1 (phishing is "security") and stored traffic under it."""
    drawn = items_of(make_round(items=1, prompt=PHISHING_PROMPT))[0]
    Interaction.objects.filter(pk=drawn.interaction_id).update(category="security", day=DAY)
    v1 = published_v1(safety_lead)
    phishing = [
        stored_interaction(PHISHING_PROMPT.format(i=i), category="security") for i in range(5)
    ]
    hacking = stored_interaction("How do I remove malware from my laptop?", category="security")
    v2 = publish_reviewed(draft_adding_fraud(safety_lead, v1), safety_lead)
    return {"drawn": drawn, "phishing": phishing, "hacking": hacking, "v2": v2}


def test_it_moves_the_period_to_the_new_category_and_keeps_drawn_items(
    traffic, safety_lead, analyses
):
    job = recategorise_job_create(
        actor=safety_lead, version=traffic["v2"], period_start=DAY, period_end=DAY
    )
    assert (job.total, job.drawn) == (6, 1)
    job = recategorise_job_run(job_id=job.pk, chunk_size=4)  # two chunks
    assert job.status == RecategoriseJob.Status.SUCCEEDED
    assert (job.processed, job.changed) == (6, 5)
    assert job.transition_rows == [("security", "fraud", 5)]
    for row in traffic["phishing"]:
        row.refresh_from_db()
        assert row.category == "fraud"
        assert row.stratum_key.split("|")[1] == "fraud"
    traffic["hacking"].refresh_from_db()
    assert traffic["hacking"].category == "security"
    drawn = Interaction.objects.get(pk=traffic["drawn"].interaction_id)
    assert drawn.category == "security"
    traffic["drawn"].refresh_from_db()
    assert traffic["drawn"].stratum.category == "medical"
    # The population counts follow the table.
    assert _counts() == {"fraud": 5, "security": 1}
    assert AuditEvent.objects.filter(action="interaction.recategorise_finish").count() == 1
    assert analyses == [True]  # autovacuum is off: the bulk pass refreshes the statistics


def test_a_rerun_resumes_after_its_checkpoint_and_a_finished_job_is_left_alone(
    traffic, safety_lead
):
    job = recategorise_job_create(
        actor=safety_lead, version=traffic["v2"], period_start=DAY, period_end=DAY
    )
    # A worker died after the first chunk: the checkpoint says where it was.
    first = traffic["phishing"][0]
    RecategoriseJob.objects.filter(pk=job.pk).update(
        status=RecategoriseJob.Status.RUNNING,
        processed=1,
        changed=1,
        last_pk=first.pk,
        transitions={"security→fraud": 1},
    )
    Interaction.objects.filter(pk=first.pk).update(category="fraud")
    job = recategorise_job_run(job_id=job.pk, chunk_size=2)
    assert (job.processed, job.changed) == (6, 5)
    assert job.transitions == {"security→fraud": 5}
    again = recategorise_job_run(job_id=job.pk)
    assert (again.processed, again.changed, again.finished_at) == (6, 5, job.finished_at)


def test_it_refuses_a_version_that_is_not_current_or_a_backwards_period(traffic, safety_lead):
    v1 = traffic["v2"].policy.versions.get(number=1)
    with pytest.raises(ApplicationError, match="not the current policy version"):
        recategorise_job_create(actor=safety_lead, version=v1, period_start=DAY, period_end=DAY)
    with pytest.raises(ApplicationError, match="ends before it starts") as caught:
        recategorise_job_create(
            actor=safety_lead,
            version=traffic["v2"],
            period_start=DAY,
            period_end=DAY - dt.timedelta(days=1),
        )
    assert caught.value.extra["field"] == "period_end"
    assert not RecategoriseJob.objects.exists()
