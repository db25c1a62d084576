"""The one field list: CSV columns, known fields, COPY columns and the record schema derive
from it."""

import csv
import io

import jsonschema
import pytest
from django.db.models import JSONField

from auditcore.demo_data import generate_records
from auditcore.ingest import writer
from auditcore.ingest.fields import CSV_COLUMNS, RECORD_FIELDS, record_schema
from auditcore.ingest.parsers import iter_records
from auditcore.ingest.validation import KNOWN_FIELDS, IngestRecord, validate_record
from auditcore.models import Interaction


def test_the_copy_columns_are_every_column_of_the_interaction_table_but_its_id():
    columns = {field.column for field in Interaction._meta.concrete_fields} - {"id"}
    assert sorted(writer.COLUMNS) == sorted(columns)
    assert len(set(writer.COLUMNS)) == len(writer.COLUMNS)


def test_the_writer_encodes_exactly_the_json_columns_itself():
    json_columns = {
        field.column
        for field in Interaction._meta.concrete_fields
        if isinstance(field, JSONField) and field.column in writer.COLUMNS
    }
    assert set(writer.JSON_FIELDS) == json_columns


def test_a_csv_with_every_column_fills_every_field_of_the_record():
    cells = {
        "id": "r-1",
        "timestamp": "2026-11-20T14:03:00Z",
        "surface": "web",
        "model": "m-1",
        "messages": '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},'
        ' {"role": "user", "content": "dose?"}]',
        "prompt": "dose?",
        "response": "No.",
        "served_response": "Ask a pharmacist.",
        "gateway_action": "replaced",
        "user_id": "u-7",
        "user_segment": "pro",
        "user_weight": "2.5",
        "session_importance": "3",
        "conversation_id": "c-1",
        "turn": "2",
        "metadata": '{"locale": "fr"}',
        "latency_ms": "120",
    }
    assert {column.name for column in CSV_COLUMNS} == set(cells) - {"latency_ms"}
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(cells), list(cells.values())])
    [(line, raw)] = list(iter_records(io.BytesIO(buffer.getvalue().encode()), "csv"))

    record = validate_record(raw, line=line)

    assert isinstance(record, IngestRecord), record
    assert (record.external_id, record.surface, record.model) == ("r-1", "web", "m-1")
    assert record.prompt == "dose?"
    assert record.earlier_turns == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]
    assert (record.response, record.served_response) == ("No.", "Ask a pharmacist.")
    assert record.gateway_action == "replaced"
    assert (record.user_id, record.user_segment, record.impact_weight) == ("u-7", "pro", 2.5)
    assert (record.session_importance, record.conversation_id, record.turn) == (3.0, "c-1", 2)
    assert record.metadata == {"locale": "fr", "latency_ms": "120"}


def test_the_record_schema_names_every_known_field_and_accepts_the_demo_records():
    schema = record_schema()
    assert set(schema["properties"]) == KNOWN_FIELDS
    assert all(schema["properties"][f.name]["description"] for f in RECORD_FIELDS)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for raw in generate_records(200, seed=3):
        validator.validate(raw)
        assert isinstance(validate_record(raw, line=1), IngestRecord)


@pytest.mark.parametrize("missing", [f.name for f in RECORD_FIELDS if f.required])
def test_a_record_without_a_required_field_fails_the_schema_and_the_validator(missing):
    raw = next(iter(generate_records(1, seed=3)))
    del raw[missing]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, record_schema())
    assert not isinstance(validate_record(raw, line=1), IngestRecord)
