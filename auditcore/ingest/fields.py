"""The fields of an ingest record, declared once, with the caps and vocabularies they are held to.

``RECORD_FIELDS`` lists the keys of a record in the native shape (DESIGN.md), as a file line or an
API push carries it. The validator's known fields (``KNOWN_FIELDS``), the flat CSV columns
(``CSV_COLUMNS``) and the upload page's field table derive from it, and ``record_schema()`` gives
it as JSON Schema, from which an API serializer or an OpenAPI component can be generated. What a
record becomes once validated and prepared (``validation.IngestRecord``, ``pipeline.PreparedRow``)
is declared on those dataclasses, and the COPY columns derive from them (``writer.COLUMNS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MAX_ID_CHARS = 200
MAX_LABEL_CHARS = 100
MAX_TEXT_CHARS = 200_000
MAX_HISTORY_CHARS = 1_000_000
MAX_TURNS = 200
MAX_METADATA_BYTES = 64 * 1024
MAX_TURN_NUMBER = 100_000

GATEWAY_ACTIONS = ("none", "blocked", "replaced", "modified")
MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool")
DEFAULT_SEGMENT = "unknown"

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class CsvColumn:
    """A column of the flat CSV form: where its cell goes in the native record, and how it is
    read (an empty cell is "not given")."""

    name: str
    path: tuple[str, ...]
    kind: Literal["text", "number", "json"] = "text"


@dataclass(frozen=True, slots=True)
class RecordField:
    """One key of the native record.

    ``schema`` is the JSON Schema of its value (OpenAPI 3.1 uses JSON Schema as it is);
    ``required`` is True only for keys every record must carry, and ``condition`` says when an
    optional one is needed after all.
    """

    name: str
    schema: dict[str, Any]
    required: bool
    description: str
    csv: tuple[CsvColumn, ...]
    condition: str = ""

    @property
    def requirement(self) -> str:
        return "required" if self.required else self.condition or "optional"


def _text(max_chars: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_chars, **extra}


def _column(name: str, kind: Literal["text", "number", "json"] = "text") -> tuple[CsvColumn, ...]:
    return (CsvColumn(name, (name,), kind),)


_MESSAGE = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": list(MESSAGE_ROLES)},
        "content": {
            "description": "Text, or a list of {type, text} parts (only text parts are kept).",
            "oneOf": [
                _text(MAX_TEXT_CHARS),
                {"type": "array", "items": {"type": "object"}},
                {"type": "null"},
            ],
        },
    },
    "required": ["role"],
}
_USER = {
    "type": "object",
    "properties": {
        "id": {"oneOf": [_text(MAX_ID_CHARS), {"type": "integer"}]},
        "segment": _text(MAX_LABEL_CHARS, default=DEFAULT_SEGMENT),
        "weight": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
    },
}

RECORD_FIELDS: tuple[RecordField, ...] = (
    RecordField(
        "id",
        {"oneOf": [_text(MAX_ID_CHARS, minLength=1), {"type": "integer"}]},
        True,
        "Your record id, unique within the source; a re-upload skips known ids.",
        _column("id"),
    ),
    RecordField(
        "timestamp",
        {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]},
        True,
        "ISO-8601 date and time with a timezone (2026-11-20T14:03:00Z), or epoch seconds.",
        _column("timestamp"),
    ),
    RecordField(
        "surface",
        _text(MAX_LABEL_CHARS, minLength=1),
        True,
        "Where the conversation happened (web, api, mobile, …).",
        _column("surface"),
    ),
    RecordField(
        "model",
        _text(MAX_LABEL_CHARS, minLength=1),
        True,
        "The model version that answered.",
        _column("model"),
    ),
    RecordField(
        "messages",
        {"type": "array", "items": _MESSAGE, "minItems": 1, "maxItems": MAX_TURNS},
        False,
        "The conversation as [{role, content}], ending with the user turn that is the prompt.",
        _column("messages", "json"),
        condition="prompt or messages",
    ),
    RecordField(
        "prompt",
        _text(MAX_TEXT_CHARS, minLength=1),
        False,
        "The user's prompt as plain text.",
        _column("prompt"),
        condition="prompt or messages",
    ),
    RecordField(
        "response",
        _text(MAX_TEXT_CHARS),
        True,
        "What the model answered; may be an empty string, not missing.",
        _column("response"),
    ),
    RecordField(
        "served_response",
        {"oneOf": [_text(MAX_TEXT_CHARS), {"type": "null"}]},
        False,
        "What the user was actually shown, when the gateway changed the answer.",
        _column("served_response"),
        condition="with replaced / modified",
    ),
    RecordField(
        "gateway_action",
        {"type": "string", "enum": list(GATEWAY_ACTIONS), "default": "none"},
        False,
        "none (default), blocked, replaced or modified.",
        _column("gateway_action"),
    ),
    RecordField(
        "user",
        {"oneOf": [_text(MAX_ID_CHARS), _USER]},
        False,
        "The user's id (a string), or {id, segment, weight}: weight > 0 is the impact weight.",
        (
            CsvColumn("user_id", ("user", "id")),
            CsvColumn("user_segment", ("user", "segment")),
            CsvColumn("user_weight", ("user", "weight"), "number"),
        ),
    ),
    RecordField(
        "session_importance",
        {"type": "number", "minimum": 0, "default": 1.0},
        False,
        "A number ≥ 0 (default 1) used as a size measure.",
        _column("session_importance", "number"),
    ),
    RecordField(
        "conversation_id",
        _text(MAX_ID_CHARS),
        False,
        "Groups the turns of one conversation.",
        _column("conversation_id"),
    ),
    RecordField(
        "turn",
        {"type": "integer", "minimum": 1, "maximum": MAX_TURN_NUMBER},
        False,
        "The turn number (≥ 1); by default the count of user turns.",
        _column("turn", "number"),
    ),
    RecordField(
        "metadata",
        {"type": "object", "additionalProperties": True},
        False,
        "Any JSON object kept with the record; unknown fields go here too.",
        _column("metadata", "json"),
    ),
)

KNOWN_FIELDS = frozenset(field.name for field in RECORD_FIELDS)
CSV_COLUMNS = tuple(column for field in RECORD_FIELDS for column in field.csv)


def record_schema() -> dict[str, Any]:
    """The native record as a JSON Schema object (unknown keys allowed: they go to metadata)."""
    return {
        "type": "object",
        "properties": {
            field.name: {**field.schema, "description": field.description}
            for field in RECORD_FIELDS
        },
        "required": [field.name for field in RECORD_FIELDS if field.required],
        "additionalProperties": True,
    }
