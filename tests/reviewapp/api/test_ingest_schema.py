"""The OpenAPI schema documents each field of a pushed record, and its example goes in as is."""

import pytest

from auditcore.ingest.validation import (
    GATEWAY_ACTIONS,
    KNOWN_FIELDS,
    MAX_LABEL_CHARS,
    MAX_TURN_NUMBER,
    MESSAGE_ROLES,
)
from auditcore.models import Interaction
from auditcore.services.tokens import api_token_create
from reviewapp.views.ingest import FIELD_HELP, SAMPLE_RECORDS

pytestmark = pytest.mark.django_db

URL = "/api/v1/interactions"


@pytest.fixture
def schema(client, reviewer) -> dict:
    client.force_login(reviewer)
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return {
            **_resolve(schema, node["allOf"][0]),
            **{k: v for k, v in node.items() if k != "allOf"},
        }
    return node


def _push_body(schema: dict) -> dict:
    content = schema["paths"][URL]["post"]["requestBody"]["content"]["application/json"]
    return content


def _record(schema: dict) -> dict:
    body = _resolve(schema, _push_body(schema)["schema"])
    records = body["properties"]["records"]
    assert records["type"] == "array"
    return _resolve(schema, records["items"])


def test_the_push_request_types_every_field_of_a_record(schema):
    record = _record(schema)
    properties = record["properties"]
    assert set(properties) == KNOWN_FIELDS
    for name, prop in properties.items():
        prop = _resolve(schema, prop)
        assert "type" in prop or "oneOf" in prop, name
        assert FIELD_HELP[name][1] in prop["description"], name
    assert set(record["required"]) == {"id", "timestamp", "surface", "model", "response"}

    def typed(name: str) -> dict:
        return _resolve(schema, properties[name])

    assert (typed("surface")["type"], typed("surface")["maxLength"]) == ("string", MAX_LABEL_CHARS)
    assert typed("response")["type"] == "string" and "minLength" not in typed("response")
    assert typed("served_response")["nullable"] is True
    assert (typed("turn")["type"], typed("turn")["minimum"]) == ("integer", 1)
    assert typed("turn")["maximum"] == MAX_TURN_NUMBER
    assert typed("session_importance")["type"] == "number"
    assert typed("metadata")["type"] == "object"
    assert set(typed("gateway_action")["enum"]) == GATEWAY_ACTIONS
    assert typed("gateway_action")["default"] == "none"
    assert {t["type"] for t in typed("id")["oneOf"]} == {"string", "integer"}
    assert {"format": "date-time", "type": "string"} in typed("timestamp")["oneOf"]
    assert {t["type"] for t in typed("user")["oneOf"]} == {"string", "object"}
    message = _resolve(schema, typed("messages")["items"])
    assert set(_resolve(schema, message["properties"]["role"])["enum"]) == MESSAGE_ROLES
    content = message["properties"]["content"]
    assert {alternative["type"] for alternative in content["oneOf"]} == {"string", "array"}
    assert content["nullable"] is True  # JSON Schema's null alternative, as OpenAPI 3.0 says it


def test_the_schema_example_is_the_sample_and_goes_in_without_a_rejection(
    schema, client, safety_lead
):
    examples = _push_body(schema)["examples"]
    (example,) = examples.values()
    assert example["value"]["records"] == SAMPLE_RECORDS
    _, key = api_token_create(user=safety_lead, name="docs")
    response = client.post(
        URL, example["value"], content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200
    assert (response.json()["inserted"], response.json()["errors"]) == (2, [])
    assert Interaction.objects.filter(external_id__startswith="sample-").count() == 2


def test_a_record_against_the_documented_types_is_still_quarantined_not_refused(
    client, safety_lead
):
    # The typed schema is documentation: the validator, not the serializer, judges a record.
    _, key = api_token_create(user=safety_lead, name="t")
    bad = {**SAMPLE_RECORDS[0], "id": "bad-1", "turn": "first"}
    response = client.post(
        URL,
        {"records": [bad, SAMPLE_RECORDS[0]]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["inserted"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["field"] == "turn"
