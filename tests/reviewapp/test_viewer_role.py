"""The viewer role: the dashboard, its trends and the gate decisions, read-only; nothing else."""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from auditcore import roles
from auditcore.models import Corpus, CorpusPrompt, RoundItem
from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.django_db


def test_a_viewer_reads_the_dashboard_and_its_trend_without_any_control(client, viewer):
    audit_round = build_round(golden_strata(), name="Viewed round")
    Corpus.objects.create(name="must-help")
    client.force_login(viewer)
    page = client.get(reverse("dashboard:round", args=[audit_round.pk])).content.decode()
    assert 'id="card-frr"' in page and 'id="trend-chart"' in page and 'id="examples"' in page
    assert 'name="corpus_id"' not in page and reverse("replay:promote") not in page
    assert "/adjudication/" not in page
    assert client.get(reverse("dashboard:index") + "?layer=model").status_code == 200
    api = client.get(f"/api/v1/rounds/{audit_round.pk}/estimates")
    assert api.status_code == 200 and "served" in api.json()["layers"]
    assert client.get("/api/v1/estimates/trend").status_code == 200
    # Promoting is a lead's: the viewer's POST changes nothing.
    item = RoundItem.objects.filter(round=audit_round, final_decision="help").first()
    corpus_id = Corpus.objects.get().pk
    posted = client.post(reverse("replay:promote"), {"item_id": item.pk, "corpus_id": corpus_id})
    assert posted.status_code == 403
    assert not CorpusPrompt.objects.exists()
    # What the model said stays with the leads.
    interaction = reverse("dashboard:interaction", args=[item.interaction_id])
    assert client.get(interaction).status_code == 403


def test_every_link_on_the_viewers_dashboard_opens_for_the_viewer(client, viewer):
    audit_round = build_round(golden_strata(), name="Viewed round")
    client.force_login(viewer)
    page = client.get(reverse("dashboard:round", args=[audit_round.pk])).content.decode()
    links = {
        href.replace("&amp;", "&")
        for href in re.findall(r'href="(/[^"#]*)"', page)
        if not href.startswith(("/static/", "/logout"))
    }
    assert reverse("insights:index") not in {link.split("?")[0] for link in links}
    refused = [link for link in sorted(links) if client.get(link).status_code == 403]
    assert refused == []


def test_a_viewer_reads_gate_decisions_but_cannot_accept_one(client, viewer, decision):
    client.force_login(viewer)
    index = client.get(reverse("replay:index")).content.decode()
    assert reverse("replay:decision", args=[decision.pk]) in index
    assert reverse("replay:runs") not in index and reverse("replay:gate") not in index
    page = client.get(reverse("replay:decision", args=[decision.pk])).content.decode()
    assert 'id="outcome"' in page
    assert reverse("replay:decision_accept", args=[decision.pk]) not in page
    assert reverse("replay:run", args=[decision.candidate_id]) not in page
    accept = reverse("replay:decision_accept", args=[decision.pk])
    assert client.post(accept, {"reason": "Ship it, the numbers look fine"}).status_code == 403
    decision.refresh_from_db()
    assert not decision.is_accepted
    assert client.get("/api/v1/gate-decisions").status_code == 200
    assert client.get(f"/api/v1/gate-decisions/{decision.pk}").status_code == 200
    for url in (
        reverse("replay:run", args=[decision.candidate_id]),
        reverse("replay:corpora"),
        reverse("replay:gate"),
        "/api/v1/corpora",
        "/api/v1/replay-runs",
    ):
        assert client.get(url).status_code == 403, url


def test_the_viewer_nav_and_home_link_to_results_only(client, viewer):
    client.force_login(viewer)
    home = client.get(reverse("home")).content.decode()
    assert 'id="viewer-card"' in home and "No role yet" not in home
    assert reverse("dashboard:index") in home and reverse("replay:index") in home
    for hidden in ("review:queue", "adjudication:queue", "policy:list", "rounds:list"):
        assert reverse(hidden) not in home, hidden


def test_create_user_makes_a_viewer(capsys, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("a-long-viewer-password-2026\n")
    call_command("create_user", "exec", "--role", "viewer", "--password-file", str(secret))
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="exec")
    assert roles.user_roles(user) == {"viewer"}
    assert roles.may_read_results(user) and not roles.is_safety_lead(user)
    assert "created exec (viewer)" in capsys.readouterr().out
