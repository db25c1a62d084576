"""One error contract: a service's refusal names its field and its code; "not found" is a 404.

Pages show the refusal on the field the service names (never a name guessed from the message);
the API answers {"message", "extra": {"field", "code"}}; a "not_found" is a 404 in both.
"""

import pytest
from django.urls import reverse

from auditcore.models import CorpusPrompt
from auditcore.replay.corpus_io import MAX_PROMPT_CHARS
from auditcore.services import replay as replay_services
from auditcore.services.tokens import api_token_create
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


def _bearer(user) -> dict[str, str]:
    _, key = api_token_create(user=user, name="contract")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_a_page_shows_a_service_refusal_on_the_field_it_names(client, safety_lead):
    corpus = replay_services.corpus_create(actor=safety_lead, name="contract")
    client.force_login(safety_lead)
    response = client.post(
        reverse("replay:prompt_add", args=[corpus.pk]),
        {"prompt": "x" * (MAX_PROMPT_CHARS + 1), "category": "", "expect": "must_help"},
    )
    assert response.status_code == 400
    form = response.context["prompt_form"]
    assert form.errors["prompt"] == [f"prompt: longer than {MAX_PROMPT_CHARS} characters"]
    assert not form.non_field_errors()
    assert f"longer than {MAX_PROMPT_CHARS} characters" in response.content.decode()
    assert not CorpusPrompt.objects.filter(corpus=corpus).exists()


def test_a_page_answers_404_when_the_service_finds_nothing(client, reviewer):
    item = items_of(make_round(items=1))[0]
    client.force_login(reviewer)
    # The reviewer has no verdict on the item, so the service finds nothing to observe.
    response = client.post(reverse("review:observe", args=[item.pk]), {"observed_label": "refusal"})
    assert response.status_code == 404


def test_the_api_names_the_field_and_code_of_a_refusal(client, reviewer):
    item = items_of(make_round(items=1))[0]
    headers = _bearer(reviewer)
    client.get("/api/v1/review/next", **headers)
    response = client.post(
        f"/api/v1/review/items/{item.pk}/verdict",
        {"decision": "help", "reason_code": "not-a-code"},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["extra"] == {"field": "reason_code", "code": "invalid"}
    assert body["message"].startswith("reason_code: ")


def test_the_api_answers_404_with_the_not_found_code(client, reviewer):
    item = items_of(make_round(items=1))[0]
    response = client.post(
        f"/api/v1/review/items/{item.pk}/observed",
        {"observed_label": "refusal"},
        content_type="application/json",
        **_bearer(reviewer),
    )
    assert response.status_code == 404
    assert response.json()["extra"] == {"field": None, "code": "not_found"}


def test_a_refusal_with_facts_of_its_own_keeps_them_beside_field_and_code(client, reviewer):
    item = items_of(make_round(items=1))[0]
    first = offered_verdict(
        reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info"
    )
    response = client.post(
        f"/api/v1/review/items/{item.pk}/verdict",
        {"decision": "decline", "reason_code": "general_info"},
        content_type="application/json",
        **_bearer(reviewer),
    )
    assert response.status_code == 409
    assert response.json()["extra"] == {
        "field": None,
        "code": "already_locked",
        "verdict_id": first.pk,
    }
