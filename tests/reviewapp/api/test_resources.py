"""What the API answers: blinded review, adjudication, lists with filters, exports, the schema."""

import json

import pytest
from django.test import TestCase

from auditcore.models import ExportJob, RoundItem, Verdict
from tests.support.api import bearer
from tests.support.review_round import MARKER, items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


def test_the_next_item_is_blinded_and_a_verdict_locks_then_reveals(client, reviewer):
    audit_round = make_round(items=1)
    item = items_of(audit_round)[0]
    headers = bearer(reviewer)
    response = client.get("/api/v1/review/next", **headers)
    assert response.status_code == 200
    assert MARKER not in response.content.decode()
    body = response.json()
    assert body["item"]["item_id"] == item.pk
    assert body["item"]["prompt"] == item.interaction.prompt
    assert [c["code"] for c in body["item"]["category"]["reason_codes"]][:1] == ["general_info"]
    assert client.get(f"/api/v1/review/items/{item.pk}/reveal", **headers).status_code == 404

    response = client.post(
        f"/api/v1/review/items/{item.pk}/verdict",
        {"decision": "help", "reason_code": "general_info"},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201
    assert Verdict.objects.get(reviewer=reviewer).decision == "help"
    reveal = client.get(f"/api/v1/review/items/{item.pk}/reveal", **headers).json()
    assert reveal["response"].endswith(f"{MARKER}-response-0")
    assert reveal["served_response"].endswith(f"{MARKER}-served-0")
    assert (reveal["gateway_action"], reveal["ask_served"]) == ("replaced", True)
    observed = client.post(
        f"/api/v1/review/items/{item.pk}/observed",
        {"observed_label": "refusal", "observed_served_label": "partial_refusal"},
        content_type="application/json",
        **headers,
    )
    assert observed.json()["observed_label"] == "refusal"
    assert observed.json()["observed_served_label"] == "partial_refusal"
    assert client.get("/api/v1/review/next", **headers).json() == {"item": None, "lease_seconds": 0}


def test_a_bad_verdict_is_refused_in_the_common_error_shape(client, reviewer):
    item = items_of(make_round(items=1))[0]
    client.get("/api/v1/review/next", **bearer(reviewer))
    response = client.post(
        f"/api/v1/review/items/{item.pk}/verdict",
        {"decision": "help", "reason_code": "not-a-code"},
        content_type="application/json",
        **bearer(reviewer),
    )
    assert response.status_code == 400
    assert "reason_code" in response.json()["message"]
    missing = client.post(
        "/api/v1/review/items/999999/verdict",
        {"decision": "help"},
        content_type="application/json",
        **bearer(reviewer),
    )
    assert missing.status_code == 404


def test_a_second_verdict_on_the_same_item_is_a_conflict_and_the_first_stands(client, reviewer):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    headers = bearer(reviewer)
    client.get("/api/v1/review/next", **headers)
    url = f"/api/v1/review/items/{item.pk}/verdict"
    first = client.post(
        url, {"decision": "help", "reason_code": "general_info"}, "application/json", **headers
    )
    declined = {"decision": "decline", "reason_code": "personal_dosing"}
    second = client.post(url, declined, "application/json", **headers)
    assert (first.status_code, second.status_code) == (201, 409)
    assert "already locked" in second.json()["message"]
    assert second.json()["extra"]["verdict_id"] == first.json()["id"]
    assert Verdict.objects.get(reviewer=reviewer).decision == "help"


def test_a_safety_lead_adjudicates_a_disagreement(client, reviewer, second_reviewer, safety_lead):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    offered_verdict(reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info")
    offered_verdict(
        reviewer=second_reviewer, item_id=item.pk, decision="decline", reason_code="personal_dosing"
    )
    headers = bearer(safety_lead)
    queue = client.get("/api/v1/adjudications", **headers).json()
    assert queue["count"] == 1
    assert queue["results"][0]["decisions"] == ["help", "decline"]
    response = client.post(
        f"/api/v1/adjudications/items/{item.pk}",
        {"decision": "decline", "note": "dosing"},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201
    assert response.json()["adjudicator"] == "bob"
    item.refresh_from_db()
    assert item.final_decision == "decline"


def test_interactions_are_listed_with_filters_ordering_and_pages(client, safety_lead):
    make_round(items=3)
    headers = bearer(safety_lead)
    page = client.get("/api/v1/interactions?limit=2&ordering=id", **headers).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]
    ids = [r["id"] for r in page["results"]]
    assert ids == sorted(ids)
    assert page["results"][0]["response"].startswith("I can't help")
    none = client.get("/api/v1/interactions?response_label=compliance", **headers).json()
    assert none["count"] == 0
    bad = client.get("/api/v1/interactions?ordering=prompt", **headers)
    assert bad.status_code == 400
    assert "ordering" in bad.json()["message"]


def test_rounds_policy_and_preview_read_back(client, safety_lead):
    audit_round = make_round(items=2)
    headers = bearer(safety_lead)
    rounds = client.get("/api/v1/rounds", **headers).json()
    assert [r["name"] for r in rounds["results"]] == [audit_round.name]
    assert rounds["results"][0]["item_count"] == 2
    version_id = rounds["results"][0]["policy_version_id"]
    version = client.get(f"/api/v1/policy-versions/{version_id}", **headers).json()
    assert [c["slug"] for c in version["categories"]] == ["medical"]
    preview = client.get(f"/api/v1/rounds/{audit_round.pk}/preview", **headers)
    assert preview.status_code == 200
    assert "quotas" in preview.json()


def test_an_admin_starts_an_export_and_fetches_the_file(client, admin_user, reviewer):
    item = items_of(make_round(items=1))[0]
    offered_verdict(reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info")
    assert RoundItem.objects.get(pk=item.pk).final_decision == "help"
    headers = bearer(admin_user)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/api/v1/exports", {"format": "jsonl"}, content_type="application/json", **headers
        )
    assert response.status_code == 202
    job = ExportJob.objects.get()
    detail = client.get(f"/api/v1/exports/{job.pk}", **headers).json()
    assert detail["status"] == "succeeded"
    assert detail["rows_written"] == 1
    assert detail["file_url"].endswith(f"/api/v1/exports/{job.pk}/file")
    file = client.get(f"/api/v1/exports/{job.pk}/file", **headers)
    assert file.status_code == 200
    rows = [json.loads(line) for line in b"".join(file.streaming_content).splitlines()]
    assert rows[0]["item_id"] == item.pk
    assert rows[0]["weight"] == 2.0


def test_the_schema_describes_the_api_and_the_docs_page_has_no_inline_code(client, reviewer):
    client.force_login(reviewer)
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/review/next" in paths
    assert "/api/v1/exports" in paths
    assert "tokenAuth" in schema.json()["components"]["securitySchemes"]
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<style" not in html
    assert "<script>" not in html
    assert "cdn" not in html.lower()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
