"""Answers that show prompts or responses are never kept by a browser or a proxy cache."""

import pytest
from django.test import Client
from django.urls import reverse

from auditcore.services import replay as replay_svc
from auditcore.services import review as review_svc
from auditcore.services.tokens import api_token_create
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def reviewed(reviewer, second_reviewer):
    """An item the reviewer judged (so its reveal is open) and one in dispute."""
    mine = items_of(make_round(items=1))[0]
    review_svc.lease_take_next(reviewer=reviewer)
    offered_verdict(reviewer=reviewer, item_id=mine.pk, decision="help", reason_code="general_info")
    disputed = items_of(make_round(items=1, required_reviews=2))[0]
    for who, decision in ((reviewer, "help"), (second_reviewer, "decline")):
        offered_verdict(
            reviewer=who,
            item_id=disputed.pk,
            decision=decision,
            reason_code="general_info" if decision == "help" else "personal_dosing",
        )
    items_of(make_round(items=1))  # one more waiting, for the queue page
    return mine, disputed


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_review_pages_and_partials_are_not_stored(client, reviewer, reviewed):
    mine, _ = reviewed
    client.force_login(reviewer)
    answers = {
        "queue": client.get(reverse("review:queue")),
        "queue partial": client.get(reverse("review:queue"), headers=HX),
        "reveal": client.get(reverse("review:reveal", args=[mine.pk])),
        "reveal partial": client.get(reverse("review:reveal", args=[mine.pk]), headers=HX),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    assert [name for name, r in answers.items() if not _no_store(r)] == []


def test_lead_pages_with_prompts_or_responses_are_not_stored(client, safety_lead, reviewed):
    _, disputed = reviewed
    corpus = replay_svc.corpus_create(actor=safety_lead, name="c")
    replay_svc.corpus_prompt_add(actor=safety_lead, corpus_id=corpus.pk, prompt="Hi there?")
    client.force_login(safety_lead)
    urls = [
        reverse("dashboard:interaction", args=[disputed.interaction_id]),
        reverse("adjudication:queue"),
        reverse("adjudication:item", args=[disputed.pk]),
        reverse("replay:corpus", args=[corpus.pk]),
        reverse("replay:corpus_export", args=[corpus.pk]) + "?format=csv",
    ]
    answers = {url: client.get(url) for url in urls}
    assert {u: r.status_code for u, r in answers.items()} == dict.fromkeys(urls, 200)
    assert [u for u, r in answers.items() if not _no_store(r)] == []


def test_api_answers_are_not_stored(reviewer, safety_lead, reviewed):
    mine, disputed = reviewed
    answers = {}
    for user, urls in (
        (reviewer, ["/api/v1/review/next", f"/api/v1/review/items/{mine.pk}/reveal"]),
        (safety_lead, ["/api/v1/adjudications", f"/api/v1/interactions/{disputed.interaction_id}"]),
    ):
        _, key = api_token_create(user=user, name="t")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        answers |= {url: client.get(url) for url in urls}
    assert {u: r.status_code for u, r in answers.items()} == dict.fromkeys(answers, 200)
    assert [u for u, r in answers.items() if not _no_store(r)] == []


def test_static_files_stay_cacheable(reviewer, settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()  # a new handler, so WhiteNoise starts with these settings
    client.force_login(reviewer)
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert not _no_store(response)
