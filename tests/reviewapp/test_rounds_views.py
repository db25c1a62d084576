"""The rounds pages: permissions, creation, the live quota preview, the draw, closing, gold."""

import datetime as dt

import pytest
from django.urls import reverse

from auditcore import tasks
from auditcore.models import AuditRound, GoldItem, Interaction, RoundItem, RoundStratum
from auditcore.selectors.rounds import round_plan
from auditcore.services.rounds import round_create
from tests.support.round_data import DAY, population, published_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit_round(safety_lead):
    population({("medical", "refusal"): 30, ("finance", "compliance"): 12})
    return round_create(
        actor=safety_lead,
        name="November",
        policy_version=published_policy(safety_lead),
        period_start=DAY,
        period_end=DAY + dt.timedelta(days=6),
    )


def _pages(audit_round):
    get = [
        reverse("rounds:list"),
        reverse("rounds:new"),
        reverse("rounds:detail", args=[audit_round.pk]),
        reverse("rounds:gold"),
    ]
    post = [
        reverse("rounds:new"),
        reverse("rounds:quotas", args=[audit_round.pk]),
        reverse("rounds:draw", args=[audit_round.pk]),
        reverse("rounds:close", args=[audit_round.pk]),
        reverse("rounds:gold_write"),
        reverse("rounds:gold_mark"),
    ]
    return get, post


def test_anonymous_users_are_sent_to_login(client, audit_round):
    get, post = _pages(audit_round)
    for url in [*get, reverse("rounds:progress", args=[audit_round.pk])]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login"))
    for url in post:
        assert client.post(url).status_code == 302, url


@pytest.mark.parametrize("who", ["reviewer", "outsider"])
def test_users_without_the_role_get_403(client, audit_round, who, request):
    client.force_login(request.getfixturevalue(who))
    get, post = _pages(audit_round)
    for url in [*get, reverse("rounds:progress", args=[audit_round.pk])]:
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 403, url
    for url in post:
        assert client.post(url).status_code == 403, url
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.DRAFT


@pytest.mark.parametrize("who", ["safety_lead", "admin_user"])
def test_safety_leads_and_admins_see_every_page(client, audit_round, who, request):
    client.force_login(request.getfixturevalue(who))
    get, _ = _pages(audit_round)
    for url in get:
        assert client.get(url).status_code == 200, url


def test_the_list_pins_its_query_count(client, safety_lead, audit_round, django_assert_num_queries):
    for month, name in enumerate(("A", "B", "C"), start=1):
        round_create(
            actor=safety_lead,
            name=name,
            policy_version=audit_round.policy_version,
            period_start=dt.date(2027, month, 1),
            period_end=dt.date(2027, month, 7),
        )
    client.force_login(safety_lead)
    with django_assert_num_queries(4):  # session, user, roles, rounds (with item counts)
        response = client.get(reverse("rounds:list"))
    assert "November" in response.content.decode()


def test_a_safety_lead_creates_a_round(client, safety_lead, audit_round):
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "December",
            "policy_version": audit_round.policy_version_id,
            "period_start": "2026-12-01",
            "period_end": "2026-12-31",
            "size_measure": "sqrt_impact",
            "double_review_share": "0.3",
            "gold_rate": "0.05",
            "budget": "250",
        },
    )
    created = AuditRound.objects.get(name="December")
    assert response.status_code == 302
    assert response.url == reverse("rounds:detail", args=[created.pk])
    assert (created.size_measure, created.budget, created.double_review_share) == (
        "sqrt_impact",
        250,
        0.3,
    )
    assert created.salt


def test_a_round_period_must_be_ordered(client, safety_lead, audit_round):
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "Bad",
            "policy_version": audit_round.policy_version_id,
            "period_start": "2026-12-31",
            "period_end": "2026-12-01",
            "size_measure": "uniform",
            "double_review_share": "0.2",
            "gold_rate": "0",
            "budget": "0",
        },
    )
    assert response.status_code == 400
    assert "on or after its start" in response.content.decode()


def test_the_round_page_has_a_quota_table_that_refreshes_the_preview(
    client, safety_lead, audit_round
):
    client.force_login(safety_lead)
    body = client.get(reverse("rounds:detail", args=[audit_round.pk])).content.decode()
    assert 'hx-trigger="change delay:300ms, submit"' in body
    assert 'name="quota-medical-refusal"' in body
    assert 'name="quota-finance-compliance"' in body

    response = client.post(
        reverse("rounds:quotas", args=[audit_round.pk]),
        {"quota-medical-refusal": "10", "quota-finance-compliance": "4", "budget": "0"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="round-plan">')
    assert "<strong>14</strong> items planned" in fragment
    assert audit_round.quotas.get(category="medical", outcome="refusal").min_items == 10


def test_a_bad_quota_is_reported_and_not_saved(client, safety_lead, audit_round):
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:quotas", args=[audit_round.pk]),
        {"quota-medical-refusal": "-3"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "whole number" in response.content.decode()
    assert not audit_round.quotas.exists()


def test_drawing_shows_results_and_closing_freezes_the_round(
    client, safety_lead, audit_round, django_capture_on_commit_callbacks
):
    client.force_login(safety_lead)
    client.post(
        reverse("rounds:quotas", args=[audit_round.pk]),
        {"quota-medical-refusal": "10", "budget": "0"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("rounds:draw", args=[audit_round.pk]), headers={"HX-Request": "true"}
        )
    assert response.headers["HX-Refresh"] == "true"
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.OPEN
    assert RoundItem.objects.filter(round=audit_round).count() == 12  # 10 + 2

    body = client.get(reverse("rounds:detail", args=[audit_round.pk])).content.decode()
    assert "Strata as drawn" in body
    assert "Extend the draw" in body
    stratum = RoundStratum.objects.get(round=audit_round, category="medical")
    assert f"{stratum.tau:.6f}" in body

    # The progress poller tells the page to reload once the draw is over.
    response = client.get(
        reverse("rounds:progress", args=[audit_round.pk]), headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Refresh"] == "true"

    client.post(
        reverse("rounds:close", args=[audit_round.pk]),
        {"policy_version": audit_round.policy_version_id},
    )
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.CLOSED
    client.post(reverse("rounds:quotas", args=[audit_round.pk]), {"quota-medical-refusal": "20"})
    assert audit_round.quotas.get().min_items == 10
    body = client.get(reverse("rounds:detail", args=[audit_round.pk])).content.decode()
    assert "Draw the sample" not in body
    assert "Extend the draw" not in body


def test_the_progress_bar_shows_while_drawing(client, safety_lead, audit_round):
    AuditRound.objects.filter(pk=audit_round.pk).update(status="drawing", draw_progress=0.4)
    client.force_login(safety_lead)
    response = client.get(
        reverse("rounds:progress", args=[audit_round.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert '<progress value="0.400" max="1">' in body
    assert 'hx-trigger="every 1s"' in body


def test_gold_items_can_be_written_marked_and_retired(client, safety_lead, audit_round):
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:gold_write"),
        {"prompt": "How do I reset my router?", "expected": "help", "category": "tech"},
    )
    assert response.status_code == 302
    gold = GoldItem.objects.get()
    assert gold.interaction.source == "gold"
    interaction = Interaction.objects.exclude(source="gold").first()
    client.post(reverse("rounds:gold_mark"), {"interaction": interaction.pk, "expected": "decline"})
    assert GoldItem.objects.filter(interaction=interaction, expected="decline").exists()
    response = client.post(reverse("rounds:gold_mark"), {"interaction": 999999, "expected": "help"})
    assert response.status_code == 400
    assert "No interaction has this id" in response.content.decode()
    body = client.get(reverse("rounds:gold")).content.decode()
    assert "How do I reset my router?" in body
    client.post(reverse("rounds:gold_retire", args=[gold.pk]))
    gold.refresh_from_db()
    assert gold.active is False


def test_prompts_are_escaped_on_the_gold_page(client, safety_lead, audit_round):
    client.force_login(safety_lead)
    client.post(
        reverse("rounds:gold_write"),
        {"prompt": "<script>alert(1)</script>", "expected": "help", "category": "tech"},
    )
    body = client.get(reverse("rounds:gold")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_nav_links_for_safety_leads_only(client, safety_lead, reviewer):
    client.force_login(safety_lead)
    body = client.get(reverse("home")).content.decode()
    assert reverse("policy:list") in body
    assert reverse("rounds:list") in body
    client.force_login(reviewer)
    body = client.get(reverse("home")).content.decode()
    assert reverse("policy:list") not in body
    assert reverse("rounds:list") not in body


def test_the_preview_of_a_demo_week_with_budget_50_plans_at_most_50_and_shows_its_half_width(
    client, safety_lead, tmp_path
):
    import re

    from auditcore.demo_data import generate_records, write_jsonl
    from auditcore.models import IngestJob
    from auditcore.services.ingest import ingest_job_create, ingest_job_run_inline

    start = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    path = tmp_path / "week.jsonl"
    write_jsonl(generate_records(2000, start=start, days=7), path)
    job = ingest_job_create(path=path, source="demo", fmt="jsonl", origin=IngestJob.Origin.COMMAND)
    ingest_job_run_inline(job_id=job.pk)

    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "Week 47",
            "policy_version": published_policy(safety_lead).pk,
            "period_start": "2026-11-16",
            "period_end": "2026-11-22",
            "size_measure": "uniform",
            "double_review_share": "0.2",
            "gold_rate": "0",
            "budget": "50",
        },
        follow=True,
    )
    page = response.content.decode()
    totals = re.search(r"<strong>(\d+)</strong> items planned within the budget of 50", page)
    planned = int(totals[1])
    assert 0 < planned <= 50
    half_width = re.search(r"rate near 20%: <strong>±([\d.]+) points</strong>", page)
    assert half_width is not None
    assert 10 < float(half_width[1]) < 30  # about ±1.96·√(0.16·deff/50)
    assert "collapsed so that every stratum keeps 2 items within the budget" in page
    audit_round = AuditRound.objects.get(name="Week 47")
    assert sum(s.planned for s in round_plan(audit_round).strata) == planned


def test_creating_an_overlapping_round_is_refused_on_the_page(client, safety_lead, audit_round):
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "Overlapping",
            "policy_version": audit_round.policy_version_id,
            "period_start": (DAY + dt.timedelta(days=3)).isoformat(),
            "period_end": (DAY + dt.timedelta(days=9)).isoformat(),
            "size_measure": "uniform",
            "double_review_share": "0.2",
            "gold_rate": "0",
            "budget": "50",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "overlaps round &#x27;November&#x27;" in page
    assert not AuditRound.objects.filter(name="Overlapping").exists()


def test_a_supplement_is_created_from_the_page(
    client, safety_lead, audit_round, django_capture_on_commit_callbacks
):
    from auditcore.services.rounds import round_draw_request

    with django_capture_on_commit_callbacks(execute=True):
        round_draw_request(actor=safety_lead, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "November, more",
            "policy_version": audit_round.policy_version_id,
            "supplement_of": audit_round.pk,
            "size_measure": "uniform",
            "double_review_share": "0.2",
            "gold_rate": "0",
            "budget": "10",
        },
    )
    extra = AuditRound.objects.get(name="November, more")
    assert response.status_code == 302
    assert extra.supplement_of == audit_round
    assert (extra.period_start, extra.period_end) == (
        audit_round.period_start,
        audit_round.period_end,
    )


def test_a_round_with_collapsed_strata_shows_on_the_dashboard(
    client, safety_lead, django_capture_on_commit_callbacks
):
    from tests.support.round_data import draw

    population({("medical", "refusal"): 30, ("finance", "compliance"): 30}, model="m1")
    population({("medical", "refusal"): 30, ("finance", "compliance"): 30}, model="m2", start=500)
    audit_round = round_create(
        actor=safety_lead,
        name="Pooled models",
        policy_version=published_policy(safety_lead),
        period_start=DAY,
        period_end=DAY,
        budget=6,
    )
    audit_round = draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    assert "model_version" not in audit_round.strata_dims
    assert set(RoundStratum.objects.values_list("model_version", flat=True)) == {None}
    client.force_login(safety_lead)
    response = client.get(reverse("dashboard:round", args=[audit_round.pk]))
    assert response.status_code == 200
    assert "Pooled models" in response.content.decode()


def test_the_draw_button_is_refused_while_the_quotas_do_not_fit(
    client, safety_lead, audit_round, django_capture_on_commit_callbacks
):
    from auditcore.services.rounds import round_quotas_set

    round_quotas_set(
        actor=safety_lead,
        audit_round=audit_round,
        quotas={("medical", "refusal"): 25},
        budget=10,
    )
    client.force_login(safety_lead)
    detail = client.get(reverse("rounds:detail", args=[audit_round.pk])).content.decode()
    assert 'id="plan-problem"' in detail
    assert "more than the budget of 10" in detail
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rounds:draw", args=[audit_round.pk]), follow=True)
    assert "more than the budget of 10" in response.content.decode()
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.DRAFT
    assert not RoundItem.objects.filter(round=audit_round).exists()
