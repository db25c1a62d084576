"""Re-categorise on publish, in the browser: the published version's page offers it for a period,
the job runs in the background and its page shows progress, then the moves per category."""

import pytest
from django.urls import reverse

from auditcore.models import Interaction, RecategoriseJob
from tests.support.policy_review import proposing_lead
from tests.support.recategorise_data import PHISHING_PROMPT, draft_adding_fraud, published_v1
from tests.support.review_round import items_of, make_round
from tests.support.traffic import DAY, stored_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client, safety_lead):
    drawn = items_of(make_round(items=1, prompt=PHISHING_PROMPT))[0]
    Interaction.objects.filter(pk=drawn.interaction_id).update(category="security", day=DAY)
    v1 = published_v1(safety_lead)
    phishing = stored_interaction(PHISHING_PROMPT.format(i=1), category="security")
    draft = draft_adding_fraud(safety_lead, v1)
    client.force_login(proposing_lead())
    client.post(reverse("policy:propose", args=[draft.pk]))
    client.force_login(safety_lead)
    return {"draft": draft, "drawn": drawn, "phishing": phishing, "v1": v1}


def test_publishing_offers_to_recategorise_the_period(client, setup):
    response = client.post(reverse("policy:publish", args=[setup["draft"].pk]), follow=True)
    html = response.content.decode()
    assert "Re-categorise the stored traffic of the period under v2" in html
    # The default period is the last 30 days of stored traffic.
    assert f'value="{DAY.isoformat()}"' in html
    assert "1 interaction to classify" in html
    assert "1 item already drawn into rounds keeps its stratum" in html
    # An older version is not offered it.
    html = client.get(reverse("policy:version", args=[setup["v1"].pk])).content.decode()
    assert "Re-categorise the stored traffic" not in html


def test_the_job_runs_in_the_background_and_reports_the_moves(
    client, setup, django_capture_on_commit_callbacks
):
    client.post(reverse("policy:publish", args=[setup["draft"].pk]))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("policy:recategorise", args=[setup["draft"].pk]),
            {"period_start": DAY.isoformat(), "period_end": DAY.isoformat()},
        )
    job = RecategoriseJob.objects.get()
    assert response.url == reverse("policy:recategorise_job", args=[job.pk])
    html = client.get(response.url).content.decode()
    assert "Done: 1 interaction changed category" in html
    assert 'data-move="security→fraud"' in html
    assert "1 item already drawn into rounds keeps its stratum" in html
    setup["phishing"].refresh_from_db()
    assert setup["phishing"].category == "fraud"
    # The page's fragment, as htmx polls it.
    fragment = client.get(response.url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.strip().startswith('<section id="recategorise-progress"')
    assert "hx-trigger" not in fragment


def test_a_running_job_polls_its_progress(client, setup):
    client.post(reverse("policy:publish", args=[setup["draft"].pk]))
    job = RecategoriseJob.objects.create(
        policy_version=setup["draft"], period_start=DAY, period_end=DAY, total=10, processed=4
    )
    fragment = client.get(
        reverse("policy:recategorise_job", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert "4 of 10 interactions classified" in fragment


def test_a_backwards_period_is_refused_with_the_field_named(client, setup):
    client.post(reverse("policy:publish", args=[setup["draft"].pk]))
    response = client.post(
        reverse("policy:recategorise", args=[setup["draft"].pk]),
        {"period_start": "2026-11-05", "period_end": "2026-11-01"},
        follow=True,
    )
    assert "period_end: the period ends before it starts" in response.content.decode()
    assert not RecategoriseJob.objects.exists()


def test_recategorising_is_for_safety_leads(client, setup, reviewer):
    job = RecategoriseJob.objects.create(
        policy_version=setup["v1"], period_start=DAY, period_end=DAY
    )
    client.force_login(reviewer)
    assert client.get(reverse("policy:recategorise_job", args=[job.pk])).status_code == 403
    response = client.post(
        reverse("policy:recategorise", args=[setup["v1"].pk]),
        {"period_start": DAY.isoformat(), "period_end": DAY.isoformat()},
    )
    assert response.status_code == 403
    assert RecategoriseJob.objects.count() == 1


def test_the_job_page_counts_every_drawn_item_it_leaves_alone(
    client, setup, django_capture_on_commit_callbacks
):
    client.post(reverse("policy:publish", args=[setup["draft"].pk]))
    second = items_of(make_round(items=1, prompt=PHISHING_PROMPT))[0]
    Interaction.objects.filter(pk=second.interaction_id).update(category="security", day=DAY)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("policy:recategorise", args=[setup["draft"].pk]),
            {"period_start": DAY.isoformat(), "period_end": DAY.isoformat()},
        )
    job = RecategoriseJob.objects.get()
    assert (job.status, job.changed) == (RecategoriseJob.Status.SUCCEEDED, 1)
    html = client.get(reverse("policy:recategorise_job", args=[job.pk])).content.decode()
    assert "2 items already drawn into rounds keep their strata" in html
    for item in (setup["drawn"], second):
        assert Interaction.objects.get(pk=item.interaction_id).category == "security"
