"""`manage.py seed_demo` builds a usable demo and changes nothing when run again."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from auditcore import roles
from auditcore.models import (
    AuditRound,
    Category,
    Corpus,
    Interaction,
    PolicyVersion,
    RoundStratum,
    StratumCount,
)

pytestmark = pytest.mark.django_db


def test_seeding_twice_creates_the_demo_once(capsys):
    call_command("seed_demo", records=400)
    first = capsys.readouterr().out
    counts = (
        Interaction.objects.count(),
        PolicyVersion.objects.count(),
        get_user_model().objects.count(),
        sum(StratumCount.objects.values_list("count", flat=True)),
    )
    call_command("seed_demo", records=400)
    second = capsys.readouterr().out
    assert counts == (
        Interaction.objects.count(),
        PolicyVersion.objects.count(),
        get_user_model().objects.count(),
        sum(StratumCount.objects.values_list("count", flat=True)),
    )
    assert counts[0] == 400
    assert "interactions: 400 new" in first
    assert "interactions: 0 new, 400 already there" in second
    assert "lead" in second and "lead-demo-2026" in second


def test_the_demo_policy_is_published_with_help_and_decline_conditions():
    call_command("seed_demo", records=50)
    version = PolicyVersion.objects.get(status="published")
    slugs = set(Category.objects.filter(policy_version=version).values_list("slug", flat=True))
    assert {"financial", "medical", "legal", "security", "jailbreak", "general"} <= slugs
    medical = Category.objects.get(policy_version=version, slug="medical")
    assert medical.help_when and medical.decline_when
    starter = Corpus.objects.get(name="starter")
    assert starter.prompts.filter(expect="must_help").count() >= 200


def test_the_demo_has_one_user_per_role_who_can_log_in(client):
    call_command("seed_demo", records=50)
    users = get_user_model().objects.all()
    assert {r for u in users for r in roles.user_roles(u)} == set(roles.ROLES)
    assert client.login(username="lead", password="lead-demo-2026")


def test_the_demo_opens_a_drawn_round_so_reviewers_have_a_queue():
    call_command("seed_demo", records=600)
    audit_round = AuditRound.objects.get(name="Demo round")
    assert audit_round.status == "open"
    assert audit_round.items.count() > 50
    call_command("seed_demo", records=600)
    assert AuditRound.objects.count() == 1


def test_the_demo_traffic_has_refusals_gateway_blocks_and_several_segments():
    call_command("seed_demo", records=600)
    labels = set(Interaction.objects.values_list("response_label", flat=True))
    assert {"compliance", "refusal"} <= labels
    assert Interaction.objects.exclude(gateway_action="none").exists()
    assert Interaction.objects.values("user_segment").distinct().count() >= 3
    assert Interaction.objects.exclude(earlier_turns=[]).exists()


def test_the_demo_rounds_dashboard_shows_both_axes(client):
    # The demo's budget collapses day, surface and model version into the strata (NULL there).
    call_command("seed_demo", records=600)
    audit_round = AuditRound.objects.get()
    assert RoundStratum.objects.filter(round=audit_round, day__isnull=True).exists()
    client.force_login(get_user_model().objects.get(username="lead"))
    page = client.get(reverse("dashboard:round", args=[audit_round.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "False-refusal rate" in text and "True-refusal rate" in text
