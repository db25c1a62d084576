"""POST /api/v1/interactions: token-authenticated batches with per-record errors."""

import json

import pytest
from django.urls import reverse

from auditcore.models import ApiToken, Interaction, QuarantinedRecord
from auditcore.services.tokens import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db

URL = "/api/v1/interactions"


def _record(i, **overrides):
    base = {
        "id": f"p{i}",
        "timestamp": "2026-11-20T12:00:00Z",
        "surface": "support-chat",
        "model": "acme-chat-2026-10",
        "prompt": "How do I dispute a charge on my card?",
        "response": "Call your bank and ask for a chargeback form.",
    }
    base.update(overrides)
    return base


def _post(client, key, body):
    return client.post(
        URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def test_the_url_is_the_documented_one():
    assert reverse("api:interactions") == URL


def test_a_batch_goes_in_and_the_answer_counts_it(client, safety_lead):
    _, key = api_token_create(user=safety_lead, name="prod pusher")
    response = _post(client, key, {"source": "prod", "records": [_record(1), _record(2)]})
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("received", "inserted", "duplicates", "rejected")} == {
        "received": 2, "inserted": 2, "duplicates": 0, "rejected": 0,
    }  # fmt: skip
    assert body["errors"] == []
    assert Interaction.objects.filter(source="prod").count() == 2


def test_pushing_the_same_batch_again_inserts_nothing(client, safety_lead):
    _, key = api_token_create(user=safety_lead, name="t")
    _post(client, key, {"source": "prod", "records": [_record(1)]})
    body = _post(client, key, {"source": "prod", "records": [_record(1)]}).json()
    assert (body["inserted"], body["duplicates"]) == (0, 1)


def test_each_bad_record_is_named_by_index_field_and_reason(client, safety_lead):
    _, key = api_token_create(user=safety_lead, name="t")
    body = _post(
        client,
        key,
        {"records": [_record(1), _record(2, timestamp="yesterday"), _record(3, surface=None)]},
    ).json()
    assert body["inserted"] == 1
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "timestamp"), (2, "surface")]
    assert all(e["reason"] for e in body["errors"])


def test_numbers_past_what_python_can_convert_are_rejections_not_errors(client, safety_lead):
    # JSON allows integers of any size; some of these once escaped validation as an exception.
    _, key = api_token_create(user=safety_lead, name="t")
    huge = "1" + "0" * 400
    body = (
        '{"records": ['
        f'{{"id": {huge}, "timestamp": "2026-11-20T12:00:00Z", "surface": "s", "model": "m", '
        '"prompt": "p", "response": "r"},'
        '{"id": "a", "timestamp": "0001-01-01T00:00:00+01:00", "surface": "s", "model": "m", '
        '"prompt": "p", "response": "r"},'
        f'{{"id": "b", "timestamp": {huge}, "surface": "s", "model": "m", '
        '"prompt": "p", "response": "r"},'
        '{"id": "c", "timestamp": "2026-11-20T12:00:00Z", "surface": "s", "model": "m", '
        f'"prompt": "p", "response": "r", "user": {{"id": {huge}, "weight": 1}}}},'
        '{"id": "d", "timestamp": "2026-11-20T12:00:00Z", "surface": "s", "model": "m", '
        f'"prompt": "p", "response": "r", "user": {{"id": "u", "weight": {huge}}}}},'
        '{"id": "e", "timestamp": "2026-11-20T12:00:00Z", "surface": "s", "model": "m", '
        '"prompt": "p", "response": "r"}'
        "]}"
    )
    response = _post(client, key, body)
    assert response.status_code == 200
    errors = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert errors == [
        (0, "id"),
        (1, "timestamp"),
        (2, "timestamp"),
        (3, "user.id"),
        (4, "user.weight"),
    ]
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["e"]


def test_a_lone_surrogate_is_a_rejection_with_a_storable_excerpt(client, safety_lead):
    _, key = api_token_create(user=safety_lead, name="t")
    body = json.dumps({"records": [_record(1, prompt="half an emoji \ud83d")]})
    response = _post(client, key, body)
    assert response.status_code == 200
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "prompt")]


def test_a_record_that_is_not_an_object_and_holds_a_nul_is_quarantined_not_a_500(
    client, safety_lead
):
    # PostgreSQL text cannot hold NUL: the quarantine row shows it as U+FFFD.
    _, key = api_token_create(user=safety_lead, name="t")
    response = _post(client, key, {"records": ["broken \x00 record", _record(1)]})
    assert response.status_code == 200
    body = response.json()
    assert (body["inserted"], body["rejected"]) == (1, 1)
    assert QuarantinedRecord.objects.get().excerpt == "broken \ufffd record"


def test_a_batch_over_the_limit_is_refused_whole(client, safety_lead):
    _, key = api_token_create(user=safety_lead, name="t")
    response = _post(client, key, {"records": [_record(i) for i in range(10_001)]})
    assert response.status_code == 400
    assert "records" in response.json()["message"]
    assert not Interaction.objects.exists()


def test_without_a_token_the_answer_is_401_in_the_common_error_shape(client):
    response = client.post(URL, {"records": [_record(1)]}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"message", "extra"}


def test_a_revoked_or_wrong_token_is_refused(client, safety_lead):
    token, key = api_token_create(user=safety_lead, name="t")
    api_token_revoke(user=safety_lead, token_id=token.pk)
    assert _post(client, key, {"records": [_record(1)]}).status_code == 401
    assert _post(client, "ra_nonsense", {"records": [_record(1)]}).status_code == 401


def test_tokens_are_stored_only_as_a_hash(safety_lead):
    token, key = api_token_create(user=safety_lead, name="t")
    stored = ApiToken.objects.get(pk=token.pk)
    assert key not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64


def test_a_reviewer_token_may_not_push(client, reviewer):
    _, key = api_token_create(user=reviewer, name="t")
    assert _post(client, key, {"records": [_record(1)]}).status_code == 403
    assert not Interaction.objects.exists()
