"""Tests for checking and normalising raw log records."""

import random
from datetime import UTC, date, datetime

import pytest

from auditcore.ingest import validation as v
from auditcore.ingest.validation import IngestRecord, Rejection, validate_record


def good(**overrides):
    record = {
        "id": "req_1",
        "timestamp": "2026-11-20T12:00:05Z",
        "surface": "support-chat",
        "model": "acme-chat-2026-10",
        "messages": [{"role": "user", "content": "How do I dispute a charge?"}],
        "response": "I can't give financial advice.",
    }
    record.update(overrides)
    return {k: val for k, val in record.items() if val is not ...}


def accepted(raw) -> IngestRecord:
    result = validate_record(raw, line=7)
    assert isinstance(result, IngestRecord), result
    return result


def rejected(raw) -> Rejection:
    result = validate_record(raw, line=7)
    assert isinstance(result, Rejection), result
    assert result.line == 7
    assert result.field.split(".")[0] in result.reason or result.field in result.reason
    return result


def test_it_normalises_a_full_record():
    record = accepted(
        good(
            timestamp="2026-11-20T23:30:00-05:00",
            messages=[
                {"role": "system", "content": "Be nice."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Can you help?"},
            ],
            served_response="Blocked.",
            gateway_action="replaced",
            user={"id": "u_1", "segment": "non_native_en", "weight": 3.2},
            session_importance=2,
            conversation_id="c_9",
            metadata={"locale": "en"},
        )
    )
    assert record.external_id == "req_1"
    assert record.occurred_at == datetime(2026, 11, 21, 4, 30, tzinfo=UTC)
    assert record.day == date(2026, 11, 21)  # the UTC day, not the local one
    assert record.prompt == "Can you help?"
    assert record.earlier_turns == [
        {"role": "system", "content": "Be nice."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert record.turn == 2
    assert record.served_response == "Blocked."
    assert record.gateway_action == "replaced"
    assert (record.user_id, record.user_segment, record.impact_weight) == (
        "u_1",
        "non_native_en",
        3.2,
    )
    assert record.session_importance == 2.0
    assert record.conversation_id == "c_9"
    assert record.metadata == {"locale": "en"}
    assert record.line == 7


def test_it_fills_defaults_for_optional_fields():
    record = accepted(good())
    assert record.gateway_action == "none"
    assert record.served_response is None
    assert record.user_id is None
    assert record.user_segment == "unknown"
    assert record.impact_weight == 1.0
    assert record.session_importance == 1.0
    assert record.turn == 1
    assert record.conversation_id == ""
    assert record.metadata == {}


def test_a_plain_prompt_is_accepted_instead_of_messages():
    record = accepted(good(messages=..., prompt="What is 2+2?"))
    assert record.prompt == "What is 2+2?"
    assert record.earlier_turns == []


def test_unknown_fields_go_to_metadata_without_overriding_explicit_metadata():
    record = accepted(good(latency_ms=812, locale="fr", metadata={"locale": "en"}))
    assert record.metadata == {"locale": "en", "latency_ms": 812}


def test_an_openai_style_user_string_is_the_user_id():
    assert accepted(good(user="u_42")).user_id == "u_42"


def test_a_numeric_id_is_accepted_as_text():
    assert accepted(good(id=12345)).external_id == "12345"


def test_epoch_seconds_are_accepted_as_a_timestamp():
    assert accepted(good(timestamp=1795694405)).occurred_at == datetime(
        2026, 11, 26, 12, 0, 5, tzinfo=UTC
    )


def test_an_empty_response_is_data_not_an_error():
    assert accepted(good(response="")).response == ""


@pytest.mark.parametrize("field", ["id", "timestamp", "surface", "model", "response"])
def test_it_rejects_a_record_without_a_required_field(field):
    rejection = rejected(good(**{field: ...}))
    assert rejection.field == field
    assert rejection.reason == f"{field} is required"


def test_it_rejects_a_record_without_a_prompt():
    rejection = rejected(good(messages=...))
    assert rejection.field == "prompt"
    assert "prompt is required" in rejection.reason


def test_it_rejects_a_blank_prompt():
    assert rejected(good(messages=..., prompt="   ")).reason == "prompt must not be empty"


def test_it_rejects_messages_that_do_not_end_with_a_user_turn():
    rejection = rejected(
        good(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    )
    assert rejection.field == "messages"
    assert rejection.reason == "messages must end with a user turn (the prompt)"


def test_it_rejects_an_unknown_message_role():
    rejection = rejected(good(messages=[{"role": "wizard", "content": "a"}]))
    assert rejection.reason.startswith("messages[0].role must be one of")


def test_it_rejects_a_message_without_text_content():
    rejection = rejected(good(messages=[{"role": "user", "content": 42}]))
    assert rejection.reason == "messages[0].content must be a string"


def test_it_rejects_a_prompt_that_contradicts_messages():
    rejection = rejected(good(prompt="something else"))
    assert rejection.field == "prompt"


def test_it_rejects_a_naive_timestamp():
    rejection = rejected(good(timestamp="2026-11-20T12:00:05"))
    assert (rejection.field, rejection.reason) == ("timestamp", "timestamp must include a timezone")


def test_it_rejects_a_timestamp_that_is_not_iso_8601():
    rejection = rejected(good(timestamp="20/11/2026 12:00"))
    assert rejection.reason == "timestamp '20/11/2026 12:00' is not an ISO-8601 date and time"


def test_it_rejects_a_timestamp_outside_the_sane_range():
    rejection = rejected(good(timestamp="1970-01-01T00:00:00Z"))
    assert rejection.reason == "timestamp must lie between 2000 and 2100"


def test_it_rejects_a_wrongly_typed_field():
    rejection = rejected(good(surface=["a"]))
    assert (rejection.field, rejection.reason) == (
        "surface",
        "surface must be a string, not a list",
    )


@pytest.mark.parametrize(
    ("field", "cap"),
    [("id", v.MAX_ID_CHARS), ("surface", v.MAX_LABEL_CHARS), ("model", v.MAX_LABEL_CHARS)],
)
def test_it_rejects_an_identifier_over_its_length_cap(field, cap):
    assert accepted(good(**{field: "x" * cap}))
    rejection = rejected(good(**{field: "x" * (cap + 1)}))
    assert rejection.field == field
    assert f"longer than {cap:,}" in rejection.reason


def test_it_rejects_a_response_over_the_text_cap():
    rejection = rejected(good(response="x" * (v.MAX_TEXT_CHARS + 1)))
    assert rejection.field == "response"
    assert "longer than 200,000 characters" in rejection.reason


def test_it_rejects_a_prompt_over_the_text_cap():
    rejection = rejected(good(messages=..., prompt="x" * (v.MAX_TEXT_CHARS + 1)))
    assert rejection.field == "prompt"


def test_it_rejects_a_conversation_with_too_many_turns():
    turns = [{"role": "user", "content": "hi"}] * (v.MAX_TURNS + 1)
    rejection = rejected(good(messages=turns))
    assert rejection.reason == "messages has more than 200 turns (201)"


def test_it_rejects_oversized_metadata():
    rejection = rejected(good(metadata={"blob": "x" * v.MAX_METADATA_BYTES}))
    assert rejection.field == "metadata"


def test_it_rejects_metadata_that_is_not_an_object():
    assert rejected(good(metadata=[1, 2])).reason == "metadata must be an object, not a list"


def test_nul_characters_are_replaced_and_counted_in_metadata():
    record = accepted(good(response="a\x00b\x00", metadata={"note": "x\x00"}))
    assert record.response == "a\ufffdb\ufffd"
    assert record.metadata["note"] == "x\ufffd"
    assert record.metadata["_nul_replaced"] == {"response": 2, "metadata": 1}


def test_it_rejects_a_lone_surrogate_naming_the_field():
    rejection = rejected(good(response="broken \ud83d emoji"))
    assert rejection.field == "response"
    assert rejection.reason == "response contains a lone surrogate, which is not valid Unicode"


def test_it_accepts_paired_emoji_and_other_scripts():
    assert accepted(good(response="ok 😀 مرحبا 你好")).response == "ok 😀 مرحبا 你好"


@pytest.mark.parametrize("weight", [0, -1, float("inf"), float("nan")])
def test_it_rejects_an_impact_weight_that_is_not_finite_and_positive(weight):
    rejection = rejected(good(user={"id": "u", "weight": weight}))
    assert rejection.field == "user.weight"


def test_it_rejects_a_boolean_impact_weight():
    rejection = rejected(good(user={"weight": True}))
    assert rejection.reason == "user.weight must be a number, not a boolean"


def test_it_rejects_a_non_numeric_impact_weight_from_csv():
    assert rejected(good(user={"weight": "heavy"})).field == "user.weight"


def test_it_rejects_negative_session_importance():
    assert rejected(good(session_importance=-0.5)).field == "session_importance"


def test_it_rejects_a_gateway_action_outside_the_allowed_set():
    rejection = rejected(good(gateway_action="filtered"))
    assert rejection.field == "gateway_action"
    assert "one of ['blocked', 'modified', 'none', 'replaced']" in rejection.reason


def test_it_rejects_a_replacement_without_the_served_response():
    rejection = rejected(good(gateway_action="replaced"))
    assert rejection.field == "served_response"
    assert rejection.reason == "served_response is required when gateway_action is 'replaced'"


def test_it_accepts_a_block_without_a_served_response():
    assert accepted(good(gateway_action="blocked")).gateway_action == "blocked"


def test_it_rejects_a_served_response_that_differs_while_the_gateway_did_nothing():
    rejection = rejected(good(served_response="something else"))
    assert rejection.field == "gateway_action"


def test_it_rejects_a_turn_that_is_not_a_positive_whole_number():
    assert rejected(good(turn=0)).field == "turn"
    assert rejected(good(turn=1.5)).field == "turn"


def test_it_rejects_a_user_that_is_not_an_object():
    assert rejected(good(user=[1])).reason == "user must be an object, not a list"


def test_it_rejects_a_record_that_is_not_an_object():
    assert validate_record(["x"], line=3) == Rejection(  # type: ignore[arg-type]
        line=3, field="record", reason="record must be a JSON object"
    )


# --- a value of the wrong type in a string field is a rejection naming the field ------------------
# (a list or object in gateway_action or a message role used to escape as TypeError, unhashable)

NOT_STRINGS = {
    "a list": ["none"],
    "an empty list": [],
    "an object": {"value": "user"},
    "an empty object": {},
    "an integer": 7,
    "a float": 1.5,
    "true": True,
    "false": False,
}
NUMBER_KINDS = {"an integer", "a float"}


def _with(field, value):
    """A good record with ``value`` put in ``field`` (a dotted path for nested fields)."""
    if field == "prompt":
        return good(prompt=value, messages=...)
    if field.startswith("messages[0]."):
        message = {"role": "user", "content": "How do I dispute a charge?"}
        message[field.rsplit(".", 1)[1]] = value
        return good(messages=[message])
    if field.startswith("user."):
        return good(user={field.split(".", 1)[1]: value})
    return good(**{field: value})


# (field as the record names it, Rejection.field, value kinds the schema accepts in that field)
STRING_FIELDS = [
    ("id", "id", NUMBER_KINDS - {"a float"}),  # numeric ids are accepted as text
    ("surface", "surface", set()),
    ("model", "model", set()),
    ("prompt", "prompt", set()),
    ("response", "response", set()),
    ("served_response", "served_response", set()),
    ("gateway_action", "gateway_action", set()),
    ("conversation_id", "conversation_id", set()),
    ("messages[0].role", "messages", set()),
    ("messages[0].content", "messages", set()),
    ("user.id", "user.id", NUMBER_KINDS - {"a float"}),
    ("user.segment", "user.segment", set()),
]


@pytest.mark.parametrize(
    ("name", "field", "kind"),
    [
        (name, field, kind)
        for name, field, allowed in STRING_FIELDS
        for kind in NOT_STRINGS
        if kind not in allowed
    ],
)
def test_a_non_string_in_a_string_field_is_a_rejection_naming_the_field(name, field, kind):
    result = validate_record(_with(name, NOT_STRINGS[kind]), line=7)
    assert isinstance(result, Rejection), result
    assert result.field == field
    assert result.reason.startswith(f"{name} must be a string"), result.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["blocked"], "gateway_action must be a string, not a list"),
        ({"action": "blocked"}, "gateway_action must be a string, not an object"),
        (1, "gateway_action must be a string, not a number"),
        (True, "gateway_action must be a string, not a boolean"),
    ],
)
def test_a_gateway_action_of_the_wrong_type_is_rejected_not_raised(value, reason):
    assert validate_record(good(gateway_action=value), line=7) == Rejection(
        line=7, field="gateway_action", reason=reason
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["user"], "messages[1].role must be a string, not a list"),
        ({"name": "user"}, "messages[1].role must be a string, not an object"),
        (2, "messages[1].role must be a string, not a number"),
        (False, "messages[1].role must be a string, not a boolean"),
        (None, "messages[1].role is required"),
    ],
)
def test_a_message_role_of_the_wrong_type_is_rejected_not_raised(value, reason):
    messages = [
        {"role": "system", "content": "Be nice."},
        {"role": value, "content": "Hi"},
        {"role": "user", "content": "Can you help?"},
    ]
    assert validate_record(good(messages=messages), line=7) == Rejection(
        line=7, field="messages", reason=reason
    )


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("id", "id"),
        ("surface", "surface"),
        ("model", "model"),
        ("response", "response"),
        ("messages[0].content", "messages"),
    ],
)
def test_null_in_a_required_string_field_is_a_rejection_naming_the_field(name, field):
    result = validate_record(_with(name, None), line=7)
    assert isinstance(result, Rejection), result
    assert result.field == field
    assert result.reason.startswith(name), result.reason


@pytest.mark.parametrize(
    "name", ["served_response", "gateway_action", "conversation_id", "user.id"]
)
def test_null_in_an_optional_string_field_is_accepted(name):
    assert accepted(_with(name, None))


def test_no_type_confusion_anywhere_in_the_schema_raises():
    values = [*NOT_STRINGS.values(), None, "", "x", float("nan"), [[]], [{}], [None]]
    fields = [name for name, _, _ in STRING_FIELDS] + [
        "timestamp",
        "messages",
        "user",
        "user.weight",
        "turn",
        "session_importance",
        "metadata",
    ]
    for name in fields:
        for value in values:
            result = validate_record(_with(name, value), line=7)
            assert isinstance(result, IngestRecord | Rejection), (name, value, result)


# --- the short path for usual records builds exactly what the full checks build -----------------
# validate_record answers most records from v._usual_record and runs the full checks (v._validate)
# only for the rest; wherever the short path answers, its record must be the full checks' record.

VARIANTS = {
    "id": ["req_2", 12345, "ünïcode-id", "x" * 200, "x" * 201, " ", "a\x00", "\ud83d", True],
    "timestamp": [
        "2026-11-20T23:30:00-05:00",
        "2026-11-20T12:00:05+00:00",
        "2026-11-20T12:00:05",
        "1999-12-31T23:30:00-01:00",
        1795694405,
        1795694405.5,
        float("nan"),
        True,
        None,
    ],
    "surface": ["web", "é", "x" * 100, "x" * 101, "", None],
    "model": ["m", "\ud83d\ude00", "a\x00b", 5],
    "messages": [
        ...,
        [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi"}],
        [{"role": "assistant", "content": None}, {"role": "user", "content": "Hi"}],
        [{"role": "user", "content": "naïve ☕"}],
        [{"role": "user", "content": "a\x00"}],
        [{"role": "user", "content": [{"type": "text", "text": "in parts"}]}],
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        [{"role": "user", "content": "   "}],
        [],
    ],
    "prompt": [..., "How do I dispute a charge?", "Hi", "something else", "What is 2+2?", 5],
    "response": ["", "café", "x\ud83dx", "a\x00", None, 5, "x" * (v.MAX_TEXT_CHARS + 1)],
    "served_response": [..., None, "Blocked.", "I can't give financial advice.", "ü", 5],
    "gateway_action": [..., None, "none", "blocked", "replaced", "modified", "bogus", ["none"]],
    "conversation_id": [..., None, "c_9", "", "ç", "c\x00", 5],
    "turn": [..., None, 1, 3, 0, 2.0, True],
    "user": [
        ...,
        None,
        "u_42",
        {"id": "u_1", "segment": "free", "weight": 2},
        {"id": 7, "weight": 0.5},
        {"id": "", "segment": ""},
        {"segment": "é", "weight": 0},
        {"weight": 10**30},
        [1],
    ],
    "session_importance": [..., None, 0, 2, 0.5, -0.0, -1, float("inf"), "1"],
    "metadata": [..., None, {}, {"locale": "en"}, {"n": "x\x00"}, {"big": "x" * 70_000}, [1]],
    "latency_ms": [..., 812, "fast", {"nested": ["a\x00"]}],
}


def test_the_short_path_for_usual_records_builds_what_the_full_checks_build():
    rng = random.Random("usual-records")
    answered = 0
    for _ in range(4000):
        fields = rng.sample(sorted(VARIANTS), k=rng.randint(1, 4))
        raw = good(**{name: rng.choice(VARIANTS[name]) for name in fields})
        usual = v._usual_record(raw, 7)
        if usual is not None:
            answered += 1
            assert repr(usual) == repr(v._validate(raw, 7)), raw
    assert answered > 1000  # the samples really exercise the short path
