"""The weekly routine: open_round --last-week, POST /api/v1/rounds, the Last week button,
round templates and the beat schedule; each opens one round per week."""

import datetime as dt
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from auditcore.models import AuditRound, RoundItem, RoundTemplate
from auditcore.services.rounds import last_week, round_create, round_templates_open_due
from auditcore.services.tokens import api_token_create
from reviewapp.celery import app as celery_app
from tests.support.round_data import population, published_policy

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _last_week_traffic(today=None):
    start, _ = last_week(today or timezone.now().date())
    for d in range(7):
        population(
            {("medical", "refusal"): 20, ("finance", "compliance"): 30},
            day=start + dt.timedelta(days=d),
            start=d * 1000,
        )
    return start


def test_last_week_is_the_monday_to_sunday_before_this_week():
    assert last_week(dt.date(2026, 12, 5)) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert last_week(dt.date(2026, 11, 30)) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))


def test_open_round_last_week_twice_in_one_week_opens_one_round(
    safety_lead, capsys, django_capture_on_commit_callbacks
):
    published_policy(safety_lead)
    start = _last_week_traffic()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("open_round", "--last-week", "--budget", "40")
    first = capsys.readouterr().out
    call_command("open_round", "--last-week", "--budget", "40")
    second = capsys.readouterr().out

    audit_round = AuditRound.objects.get()
    assert (audit_round.period_start, audit_round.period_end) == (
        start,
        start + dt.timedelta(days=6),
    )
    assert audit_round.status == AuditRound.Status.OPEN
    assert 0 < RoundItem.objects.filter(round=audit_round).count() <= 40
    assert f"Opened {audit_round.name}" in first
    assert "already open; nothing new" in second


def test_open_round_uses_a_templates_quotas_budget_and_size_measure(
    safety_lead, django_capture_on_commit_callbacks
):
    policy = published_policy(safety_lead)
    _last_week_traffic()
    RoundTemplate.objects.create(
        name="weekly-medical",
        policy=policy.policy,
        quotas={"medical/refusal": 30},
        budget=50,
        size_measure="sqrt_impact",
        double_review_share=0.5,
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("open_round", "--last-week", "--template", "weekly-medical")
    audit_round = AuditRound.objects.get()
    assert audit_round.name.startswith("weekly-medical ")
    assert (audit_round.budget, audit_round.size_measure, audit_round.double_review_share) == (
        50,
        "sqrt_impact",
        0.5,
    )
    assert audit_round.quotas.get().min_items == 30
    items = RoundItem.objects.filter(round=audit_round)
    assert items.count() <= 50
    assert items.filter(interaction__category="medical").count() >= 30


def test_open_round_names_a_missing_template_and_an_overlapping_round(safety_lead):
    policy = published_policy(safety_lead)
    with pytest.raises(CommandError, match="--template: no round template named 'nope'"):
        call_command("open_round", "--last-week", "--template", "nope")
    start, end = last_week(timezone.now().date())
    round_create(
        actor=safety_lead,
        name="By hand",
        policy_version=policy,
        period_start=start,
        period_end=end,
    )
    with pytest.raises(CommandError, match="overlaps round 'By hand'"):
        call_command("open_round", "--last-week")


def test_post_api_rounds_opens_last_weeks_round_once(
    client, safety_lead, django_capture_on_commit_callbacks
):
    published_policy(safety_lead)
    _last_week_traffic()
    _, key = api_token_create(user=safety_lead, name="cron")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(
            "/api/v1/rounds",
            {"last_week": True, "budget": 30},
            content_type="application/json",
            **auth,
        )
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["created"], body["drawing"]) == (True, True)
    again = client.post(
        "/api/v1/rounds", {"last_week": True}, content_type="application/json", **auth
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["round"]["id"] == body["round"]["id"]
    assert AuditRound.objects.count() == 1
    assert RoundItem.objects.count() <= 30

    bad = client.post(
        "/api/v1/rounds", {"last_week": False}, content_type="application/json", **auth
    )
    assert bad.status_code == 400
    assert "last_week" in bad.json()["message"]


def test_the_last_week_button_opens_and_draws_the_round(
    client, safety_lead, django_capture_on_commit_callbacks
):
    published_policy(safety_lead)
    _last_week_traffic()
    client.force_login(safety_lead)
    page = client.get(reverse("rounds:new")).content.decode()
    assert 'action="/rounds/last-week"' in page
    assert page.count('id="id_budget"') == 1  # the two forms do not share ids
    assert ">Last week</button>" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rounds:last_week"), {"last_week-budget": "25"}, follow=True)
    audit_round = AuditRound.objects.get()
    assert response.redirect_chain[-1][0] == reverse("rounds:detail", args=[audit_round.pk])
    assert "opened; its sample is being drawn" in response.content.decode()
    assert audit_round.budget == 25
    assert 0 < RoundItem.objects.filter(round=audit_round).count() <= 25
    again = client.post(reverse("rounds:last_week"), {}, follow=True)
    assert "already open" in again.content.decode()
    assert AuditRound.objects.count() == 1


def test_the_last_week_button_is_for_safety_leads_only(client, reviewer):
    client.force_login(reviewer)
    assert client.post(reverse("rounds:last_week")).status_code == 403
    assert not AuditRound.objects.exists()


def test_beat_runs_the_template_schedule_from_settings():
    entry = settings.CELERY_BEAT_SCHEDULE["rounds-open-scheduled"]
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].hour == {settings.ROUNDS_SCHEDULE_HOUR}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["beat"]["command"][:4] == ["celery", "-A", "reviewapp", "beat"]
    run = (ROOT / "Makefile").read_text().split("\nrun:")[1].split("\n\n")[0]
    assert "celery -A reviewapp worker" in run
    assert "celery -A reviewapp beat" in run


def test_the_scheduled_check_opens_due_templates_once_per_week(
    safety_lead, django_capture_on_commit_callbacks
):
    policy = published_policy(safety_lead)
    wednesday = dt.date(2026, 12, 2)
    _last_week_traffic(wednesday)
    RoundTemplate.objects.create(name="monday", policy=policy.policy, budget=20, weekday=0)
    RoundTemplate.objects.create(name="friday", policy=policy.policy, budget=20, weekday=4)
    with django_capture_on_commit_callbacks(execute=True):
        opened = round_templates_open_due(today=wednesday)
    assert [o.audit_round.name for o in opened] == ["monday 2026-W48"]
    assert opened[0].drawing
    # The second check that week opens nothing new.
    assert [o.created for o in round_templates_open_due(today=wednesday)] == [False]
    assert AuditRound.objects.count() == 1


def test_the_task_beat_runs_opens_one_round_however_often_it_runs(
    safety_lead, django_capture_on_commit_callbacks
):
    from auditcore.tasks import rounds_open_scheduled

    policy = published_policy(safety_lead)
    _last_week_traffic()
    RoundTemplate.objects.create(name="weekly", policy=policy.policy, budget=20, weekday=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert rounds_open_scheduled() == 1
    assert rounds_open_scheduled() == 0
    assert AuditRound.objects.get().template.name == "weekly"


def test_a_week_opened_before_its_records_arrived_is_drawn_by_the_next_run(
    safety_lead, django_capture_on_commit_callbacks
):
    published_policy(safety_lead)
    with pytest.raises(CommandError, match="is not drawn: No records in last week"):
        call_command("open_round", "--last-week", "--budget", "30")
    audit_round = AuditRound.objects.get()
    assert audit_round.status == AuditRound.Status.DRAFT

    _last_week_traffic()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("open_round", "--last-week", "--budget", "30")
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.OPEN
    assert AuditRound.objects.count() == 1
    assert 0 < RoundItem.objects.filter(round=audit_round).count() <= 30
